"""Exchange rates behind one interface (`RateProvider`)."""

from .base import Rate, RateProvider, RateUnavailable
from .fixed import FixedRates

__all__ = ["FixedRates", "Rate", "RateProvider", "RateUnavailable"]
