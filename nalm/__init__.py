"""nalm — neural arithmetic logic modules that learn exact arithmetic and extrapolate.

``import nalm`` loads only torch and numpy; the CLI, benchmark suites and reports live in
subpackages that import their own dependencies when used.
"""

from .units import ArithmeticUnit, available_units, create
from .units.nac import NAC, NACMul
from .units.nalu import NALU

__version__ = "0.1.0"

__all__ = ["NAC", "NACMul", "NALU", "ArithmeticUnit", "__version__", "available_units", "create"]
