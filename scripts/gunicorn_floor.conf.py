"""gunicorn's configuration of scripts/bench_checkin --floor:
scripts/gunicorn.conf.py, with the workers answering the QR check-ins by
scripts/checkin_floor.py (a measurement, not a way to serve); with the
project's rules of the attempt when CHECKIN_FLOOR is rules."""
import os
import runpy
import sys

_here = os.path.dirname(os.path.abspath(__file__))
_base = runpy.run_path(os.path.join(_here, 'gunicorn.conf.py'))
globals().update(
    (k, v) for k, v in _base.items() if not k.startswith('__'))


def post_worker_init(worker):
    _base['post_worker_init'](worker)
    sys.path.insert(0, _here)
    import checkin_floor
    checkin_floor.install(
        rules=os.environ.get('CHECKIN_FLOOR') == 'rules')
