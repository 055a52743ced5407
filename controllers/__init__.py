from . import events
from . import recording
from . import callmarker
