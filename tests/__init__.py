from . import test_access
from . import test_menu_tour
from . import test_cdr_fold
from . import test_cdr_sync
