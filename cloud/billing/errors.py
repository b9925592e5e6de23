"""Errors raised by the billing engine.

    BillingError
    ├── MoneyError              an amount or currency that cannot be money
    │   ├── AmountTypeError     a float where a number must be exact
    │   └── CurrencyMismatchError  two currencies met in one sum or one document
    ├── PeriodError             a span ending before it starts, a naive time, a bad zone
    ├── ReadingError            a reading or installation that cannot be right as given
    ├── MeterSeriesError        installations of one meter point overlap or end later
    ├── TariffError             a tariff that cannot be right, or none in force
    ├── LeaseError              lease dates or terms that cannot be right
    ├── InvoiceError            a document rule broken (no lines, credit above original)
    ├── NumberingError          a number allocator handed out a number out of sequence
    ├── PaymentError            a payment, allocation or refund that cannot be made
    └── LateFeeError            no late-fee rule in force for an overdue day

Configuration and programming mistakes raise. Bad *data* does not: a meter reading
from the future, a register that went backwards or a glitch is set aside as a
``HeldReading`` with a reason, so one bad sample never stops a billing run.
"""


class BillingError(Exception):
    """Base of every error the billing engine raises."""


class MoneyError(BillingError, ValueError):
    """An amount is not a finite number, or a currency code is not ISO 4217 shaped."""


class AmountTypeError(MoneyError, TypeError):
    """A float (or a bool, or any non-decimal type) reached money, a rate or a
    quantity; floats cannot hold 0.1 exactly, so they are refused outright rather
    than converted."""


class PeriodError(BillingError, ValueError):
    """A period or date span ends before it starts, a time is naive, or a time zone
    name is unknown."""


class CurrencyMismatchError(MoneyError):
    """Amounts in two currencies were added, compared or put on one document."""


class ReadingError(BillingError, ValueError):
    """A reading or installation is malformed: naive time, negative multiplier, a
    register size that is not positive."""


class MeterSeriesError(BillingError):
    """The installations of one meter point overlap, or one is removed in the future."""


class TariffError(BillingError):
    """Tiers not ascending, time-of-use windows that do not cover the day exactly
    once, a negative rate, or no tariff version in force at a given time."""


class LeaseError(BillingError):
    """A lease ends before it starts, or two leases of one unit overlap."""


class InvoiceError(BillingError):
    """An invoice without lines, a charge for another party, a credit note above what
    remains of the original line, or a credit note of a credit note."""


class NumberingError(BillingError):
    """A number allocator returned a sequence number that is not positive."""


class PaymentError(BillingError):
    """A payment that is not positive, an open item of another party, an allocation
    above an item's outstanding amount, or a refund above the credit balance."""


class LateFeeError(BillingError):
    """No late-fee rule is in force on an overdue day, or a rule is malformed."""
