from . import test_access
from . import test_menu_tour
from . import test_pbx_touch
from . import test_calltouch_settings
from . import test_calltouch_sync
from . import test_calltouch_matching
from . import test_calltouch_requests
from . import test_calltouch_errors
