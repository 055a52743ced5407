from . import phone
from . import http_service
from . import calltouch
