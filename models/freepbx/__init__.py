from . import pbx_connection
