from . import phone
from . import http_service
from . import callmarker_adapter
from . import calltouch
