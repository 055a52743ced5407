from . import test_ami
from . import test_cdr_fold
from . import test_cdr_sync
from . import test_cdr_sync_faults
