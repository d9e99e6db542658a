# gunicorn settings of `scripts/service web` (docker-compose's web service)
# and of scripts/bench_checkin.
import gc


def post_worker_init(worker):
    # trytond.application has built the pool of every database of
    # TRYTOND_DATABASE_NAMES: hundreds of thousands of objects that live as
    # long as the worker.  Frozen, the garbage collector's full collections
    # no longer walk them, which removed pauses of tens of milliseconds
    # from the requests (scripts/bench_checkin).
    gc.freeze()
