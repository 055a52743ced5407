from . import test_callmarker
from . import test_callmarker_faults
