from . import events
from . import recording
