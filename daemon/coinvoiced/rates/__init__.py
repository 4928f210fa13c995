"""Exchange rates behind one interface (`RateProvider`): sources and the refreshing cache."""

from .base import Rate, RateProvider, RateUnavailable
from .service import RateService, RateStatus

__all__ = ["Rate", "RateProvider", "RateService", "RateStatus", "RateUnavailable"]
