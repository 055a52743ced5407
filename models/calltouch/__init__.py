from . import res_company
from . import res_config_settings
from . import pbx_touch
from . import crm_lead
