"""The device simulator: every device family, building scenarios, faults and fleets.

The simulator plays the device side with its own encoders and never imports ``drivers``,
so that a decoding mistake in the gateway is caught instead of mirrored.
"""
