from . import test_calltouch_errors
from . import test_calltouch_matching
from . import test_calltouch_requests
from . import test_calltouch_settings
from . import test_calltouch_sync
