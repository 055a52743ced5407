from . import test_access
from . import test_menu_tour
from . import test_extensions
from . import test_call_popup
from . import test_call_popup_websocket
from . import test_call_popup_tour
from . import test_pbx_simulator
