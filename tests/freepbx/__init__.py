from . import test_cdr_fold
from . import test_cdr_sync
from . import test_cdr_sync_faults
