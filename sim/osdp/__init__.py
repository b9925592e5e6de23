"""Simulated OSDP readers: libosdp's peripheral device on a pseudo-terminal."""

from sim.osdp.reader import OsdpLineSim, OutputCommand, SimReader, osdp_line
from sim.osdp.scenario import ReaderSpec, ScenarioStep, parse_section
from sim.osdp.wiegand import encode_h10301, encode_keys, pack_bits

__all__ = [
    "OsdpLineSim",
    "OutputCommand",
    "ReaderSpec",
    "ScenarioStep",
    "SimReader",
    "encode_h10301",
    "encode_keys",
    "osdp_line",
    "pack_bits",
    "parse_section",
]
