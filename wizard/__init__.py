from . import pbx_connection_token
