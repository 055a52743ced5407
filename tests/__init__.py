from . import test_access
from . import test_menu_tour
from . import test_event_api
from . import test_patient_matching
from . import test_callbacks
from . import test_call_access
from . import test_recording
from . import test_call_log_tour
