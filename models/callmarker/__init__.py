from . import pbx_call_tag_category
from . import pbx_call_tag
from . import pbx_call_checklist_line
from . import pbx_call
from . import pbx_callmarker_push
from . import res_company
from . import res_config_settings
