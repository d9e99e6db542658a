"""Helpers for the cross-module tests: run code in a Tryton transaction the
way the server does (restart on TransactionError to take locks first, retry
on serialization failures), from worker processes."""
import os
import random
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def stop_server(process, log):
    "Stop the process group of a server started by a test, close its log"
    import signal
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
    log.close()


def run_transaction(database, func, user=0, context=None, retries=200,
        stats=None):
    """Run func() in a transaction of database and commit it.

    Return func's result.  A TransactionError restarts the transaction with
    the requested locks taken first; a DatabaseOperationalError (lock not
    available, serialization failure) is retried after a random pause, at
    most `retries` times.

    stats, a dictionary, counts the restarts ('restarts'), the conflicts
    met while the transaction took its locks, before any work ('early'),
    (counting those Transaction.start retried itself), and those met by
    func or the commit, after the work was done ('late'):
    a lock taken at the start of the transaction turns late conflicts
    into early ones."""
    from trytond import backend
    from trytond.transaction import Transaction, TransactionError

    if stats is None:
        stats = {}
    for name in ['restarts', 'early', 'late']:
        stats.setdefault(name, 0)
    _watch_locks()
    extras = {}
    attempt = 0
    while True:
        stats['early'] += _lock_conflicts.pop()
        _lock_conflicts.append(0)
        started = False
        try:
            with Transaction().start(
                    database, user, context=context, **extras) as transaction:
                started = True
                try:
                    result = func()
                except TransactionError as e:
                    transaction.rollback()
                    e.fix(extras)
                    stats['restarts'] += 1
                    continue
                transaction.commit()
                stats['early'] += _lock_conflicts.pop()
                _lock_conflicts.append(0)
                return result
        except backend.DatabaseOperationalError:
            if started:
                stats['late'] += 1
            attempt += 1
            if attempt > retries:
                raise
            time.sleep(random.uniform(0.001, 0.02))


_lock_conflicts = [0]


def _watch_locks():
    """Count in _lock_conflicts the locks that Transaction.start could not
    take (it retries them itself, unseen by run_transaction)"""
    from trytond import backend
    Database = backend.Database
    if getattr(Database.lock_records, 'watched', False):
        return
    original = Database.lock_records

    def lock_records(cls, connection, table, ids):
        try:
            return original(connection, table, ids)
        except backend.DatabaseOperationalError:
            _lock_conflicts[-1] += 1
            raise
    lock_records.watched = True
    Database.lock_records = classmethod(lock_records)


def require_postgresql(reason):
    """Decorate a test case that needs PostgreSQL and several processes.

    The backend is trytond's own (backend.name, configured by
    TRYTOND_DATABASE_URI or TRYTOND_DATABASE__URI).  On another backend the
    case is skipped, except when PostgreSQL was asked for (CI=true, or the
    PostgreSQL pass of scripts/test, which sets TEST_BACKEND=postgresql):
    then each test fails with the reason instead of skipping."""
    import unittest

    from trytond import backend
    if backend.name == 'postgresql':
        return lambda cls: cls
    message = "%s; the configured backend is %s" % (reason, backend.name)
    if (os.environ.get('CI') == 'true'
            and os.environ.get('TEST_BACKEND', 'postgresql') == 'postgresql'
            ) or os.environ.get('TEST_BACKEND') == 'postgresql':
        def decorate(cls):
            @classmethod
            def setUpClass(cls):
                raise AssertionError(message)
            cls.setUpClass = setUpClass
            return cls
        return decorate
    return unittest.skip(message)


def suite_modules():
    """The names of the modules of the core suite (the folders of modules/
    but the bridges to Tryton's modules, which have their own tests)"""
    from scripts.create_db import BRIDGES
    return [name for name in all_modules() if name not in BRIDGES]


def all_modules():
    "The names of the folders of modules/, the bridges included"
    folder = os.path.join(ROOT, 'modules')
    return sorted(name for name in os.listdir(folder)
        if os.path.exists(os.path.join(folder, name, 'tryton.cfg')))


def activate_suite(lang='en'):
    """Activate every module of the suite in the test database.

    Through miniprogram, which depends on all of them, as the API tests
    activate it: the tests that need the whole suite share one installed
    database (most of the time of a run from a clean clone is installing).
    A module that miniprogram does not depend on is refused here, not left
    out of the tests silently."""
    from trytond.pool import Pool
    from trytond.tests.test_tryton import DB_NAME, activate_module
    from trytond.transaction import Transaction
    activate_module(['miniprogram'], lang=lang)
    with Transaction().start(DB_NAME, 0, close=True):
        activated = {m.name for m in Pool().get('ir.module').search([
                    ('state', '=', 'activated'),
                    ])}
    missing = set(suite_modules()) - activated
    assert not missing, "not activated with miniprogram: %s" % ', '.join(
        sorted(missing))


def run_together(testcase, module, specs, database, start_timeout=120,
        timeout=600):
    """Run `python -m module <spec as JSON>` once per spec on database, all
    let go at the same instant: each worker sets itself up, then calls
    wait_for_go().  Return the last line of the output of each worker,
    parsed as JSON, in the order of specs.  A worker that fails, or that is
    not ready within start_timeout seconds, fails testcase with the end of
    the errors of every worker."""
    import json
    import select
    import subprocess
    import tempfile

    env = dict(os.environ, DB_NAME=database)
    workers = []

    def failure(output):
        errors = []
        for _, stderr in workers:
            stderr.seek(0)
            errors.append(stderr.read().decode('utf-8', 'replace')[-2000:])
        return "worker failed: %r\n%s" % (output, '\n'.join(errors))
    try:
        for spec in specs:
            stderr = tempfile.TemporaryFile()
            workers.append((subprocess.Popen(
                        [sys.executable, '-m', module, json.dumps(spec)],
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                        stderr=stderr, env=env, cwd=ROOT, text=True),
                    stderr))
        waiting = {p.stdout.fileno(): p for p, _ in workers}
        deadline = time.monotonic() + start_timeout
        while waiting:
            left = deadline - time.monotonic()
            testcase.assertGreater(left, 0, "workers did not start")
            ready, _, _ = select.select(list(waiting), [], [], left)
            for fd in ready:
                line = waiting[fd].stdout.readline()
                if line.strip() != 'ready':
                    testcase.fail(failure(line))
                del waiting[fd]
        for process, _ in workers:
            process.stdin.write('go\n')
            process.stdin.flush()
        outputs = []
        for process, _ in workers:
            out, _ = process.communicate(timeout=timeout)
            if process.returncode:
                testcase.fail(failure(out))
            outputs.append(json.loads(out.strip().splitlines()[-1]))
        return outputs
    finally:
        for process, stderr in workers:
            if process.poll() is None:
                process.kill()
                process.wait()
            stderr.close()


def wait_for_go():
    "In a worker of run_together: tell it ready, wait until all are let go"
    print('ready', flush=True)
    if sys.stdin.readline().strip() != 'go':
        sys.exit("not let go")


def worker_command(script, *args):
    "The command that runs a worker script of tests/ in a new process"
    return [sys.executable, os.path.join(ROOT, 'tests', script)] + [
        str(a) for a in args]


# The PostgreSQL test databases as templates

TEMPLATE_CACHE = 'TEST_TEMPLATE_CACHE'
_held_locks = {}


def use_template_cache(key=None, record=None):
    """Keep the PostgreSQL test databases as template databases (a copy is
    made by CREATE DATABASE ... TEMPLATE in about a second, where pg_restore
    of a dump takes several), named after the modules and key: Tryton names
    them after the modules only, and a database of other sources must not
    be reused.  Their names are appended to the file record, for
    scripts/test to drop them once the sources changed.

    Without arguments, key and record come from the environment
    (TEST_TEMPLATE_CACHE, set by the first call for the processes that the
    tests start): a process that installs modules calls it first.

    Several test processes share the templates (scripts/test runs the
    PostgreSQL tests in two processes): the one that misses a template
    holds a lock named after it until it has made it, so that the other
    waits and copies it instead of installing the same modules again."""
    from trytond.tests import test_tryton
    if key is None:
        if not os.environ.get(TEMPLATE_CACHE):
            return
        key, record = os.environ[TEMPLATE_CACHE].split('\n', 1)
    if getattr(test_tryton, '_suite_template_key', None) == key:
        return
    test_tryton._suite_template_key = key
    os.environ[TEMPLATE_CACHE] = '%s\n%s' % (key, record)
    # The processes that the tests start name their caches as Tryton does
    # unless they call this function: they keep dumps in the folder of
    # these sources, never a template of other sources.
    os.environ['DB_CACHE'] = os.path.join(os.path.dirname(record), 'dumps')
    test_tryton.DB_CACHE = 'postgresql://'
    cache_file_of = test_tryton._db_cache_file
    locks = os.path.join(os.path.dirname(record), 'locks')
    os.makedirs(locks, exist_ok=True)

    def _db_cache_file(path, name):
        cache_file = cache_file_of(path, '%s %s' % (name, key))
        with open(record, 'a') as fp:
            fp.write(cache_file.rsplit('/', 1)[-1] + '\n')
        return cache_file

    restore = test_tryton.restore_db_cache
    backup = test_tryton.backup_db_cache

    def restore_db_cache(name):
        # The test database is dropped to be copied again: close the
        # connections this process keeps to it (a doctest's teardown may
        # have left them, its drop skipped on a stale list of databases)
        from trytond import backend
        if test_tryton.DB_NAME in backend.Database._databases.get(
                os.getpid(), {}):
            backend.Database(test_tryton.DB_NAME).close()
        if restore(name):
            return True
        if name not in _held_locks:
            _hold_lock(locks, _db_cache_file('postgresql://', name), name)
            # Made by another process meanwhile
            if restore(name):
                release_template_locks(name)
                return True
        return False

    test_tryton._db_cache_file = _db_cache_file
    _locked_cache(restore_db_cache, backup)


def _locked_cache(restore_db_cache, backup):
    """Make Tryton's tests restore their databases with restore_db_cache
    (which may take the lock of a database to make) and back them up with
    backup, the lock of a database released once it is backed up, every
    lock of this process once the outermost install ends (an install that
    failed too); and install a database on a copy of its base (see
    install_on_base)"""
    from trytond.tests import test_tryton, tools

    def backup_db_cache(name):
        try:
            backup(name)
        finally:
            release_template_locks(name)

    def releasing(activate):
        def wrapper(*args, **kwargs):
            try:
                return activate(*args, **kwargs)
            finally:
                if not _installing:
                    release_template_locks()
        return wrapper
    install_on_base()
    for module in [test_tryton, tools]:
        module.restore_db_cache = restore_db_cache
        module.backup_db_cache = backup_db_cache
    test_tryton.activate_module = releasing(test_tryton.activate_module)
    tools.activate_modules = releasing(tools.activate_modules)


# The modules and language of the installs in progress, the innermost last
_installing = []


def install_on_base():
    """Make the test databases of Tryton's tests on a copy of their base
    instead of an empty database: the largest database of one module of
    the suite whose modules are a part of theirs (itself made the same way
    and kept in the cache).  Most of the time of a run from a clean clone
    is installing: each module's tables and data are then installed once,
    in the database of the smallest module set that holds it, and copied
    to the others, as a database is upgraded with more modules in
    production.  A scenario (tools.activate_modules) starts from the
    database of the tests of its modules."""
    from trytond.tests import test_tryton, tools
    if getattr(test_tryton.create_db, 'on_base', False):
        return
    create_db = test_tryton.create_db

    def tracking(activate_module):
        def wrapper(modules, lang='en'):
            _installing.append((modules, lang))
            try:
                return activate_module(modules, lang=lang)
            finally:
                _installing.pop()
        return wrapper

    def base_or_create_db(name=test_tryton.DB_NAME, lang='en'):
        base = None
        if _installing and name == test_tryton.DB_NAME:
            modules, install_lang = _installing[-1]
            if install_lang == lang != 'en':
                # The database of the same modules in English (cached, and
                # made on its base) with the texts of lang added, instead
                # of a second chain of bases in lang
                if test_tryton.db_exist(name):
                    test_tryton.drop_db(name)
                test_tryton.activate_module(modules)
                add_language(name, lang)
                return
            if install_lang == lang:
                base = _base_of(modules)
        if base is None:
            return create_db(name, lang)
        if test_tryton.db_exist(name):
            test_tryton.drop_db(name)
        test_tryton.activate_module([base], lang=lang)

    def activate_modules(modules, *setup):
        """trytond's tools.activate_modules of a scenario, on the database
        of its modules (that of the tests, cached: a scenario names it after
        the modules sorted, the tests in their order), its set-up (a
        company, a chart of accounts) run there"""
        if isinstance(modules, str):
            modules = [modules]
        name = '-'.join(sorted(modules))
        if setup:
            name += '--' + '|'.join(tools._func_name(f) for f in setup)
        if tools.restore_db_cache(name):
            return tools._get_config()
        # An install in progress until its backup: the lock of name is
        # kept (see _locked_cache)
        _installing.append((modules, 'en'))
        try:
            if test_tryton.db_exist():
                test_tryton.drop_db()
            test_tryton.activate_module(modules)
            config = tools._get_config()
            for func in setup:
                func(config=config)
            tools.backup_db_cache(name)
        finally:
            _installing.pop()
        return config

    base_or_create_db.on_base = True
    test_tryton.create_db = base_or_create_db
    test_tryton.activate_module = tracking(test_tryton.activate_module)
    tools.activate_modules = activate_modules


def add_language(name, lang):
    """Make lang the language of database name as Tryton's create_db does
    (its default, translatable, the users' but root's) and load the texts
    of lang (and of its parents) of every module activated there, as an
    install in lang loads them (trytond.modules.load_translations)"""
    from trytond.ir.lang import get_parent_language
    from trytond.modules import create_graph, load_translations
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    with Transaction().start(name, 0) as transaction:
        pool = Pool()
        Configuration = pool.get('ir.configuration')
        Lang = pool.get('ir.lang')
        Module = pool.get('ir.module')
        User = pool.get('res.user')
        languages, code = set(), lang
        while code:
            languages.add(code)
            code = get_parent_language(code)
        activated = Module.search([('state', '=', 'activated')])
        for node in create_graph({m.name for m in activated}):
            load_translations(pool, node, languages)
        language, = Lang.search([('code', '=', lang)])
        language.translatable = True
        language.save()
        configuration = Configuration(1)
        configuration.language = lang
        configuration.save()
        User.write(User.search([('login', '!=', 'root')]), {
                'language': language.id,
                })
        transaction.commit()


def _base_of(modules):
    """The module of the suite whose database is the largest part of the
    database of modules (both with their dependencies), or None"""
    if isinstance(modules, str):
        modules = [modules]
    wanted = module_closure(modules)
    bases = [(len(module_closure([m])), m) for m in suite_modules()
        if module_closure([m]) < wanted]
    return max(bases)[1] if bases else None


def module_closure(modules, _cache={}):
    """The modules with their dependencies (of their tryton.cfg,
    recursively), ir and res included"""
    from trytond.modules import get_module_info
    result = {'ir', 'res'}
    todo = list(modules)
    while todo:
        name = todo.pop()
        if name in result:
            continue
        result.add(name)
        if name not in _cache:
            _cache[name] = get_module_info(name).get('depends', [])
        todo.extend(_cache[name])
    return frozenset(result)


def _hold_lock(locks, cache_file, name):
    """Wait for and hold (until release_template_locks) the lock of the
    database name, a file of the folder locks named as its cache_file"""
    import fcntl
    fp = open(os.path.join(locks, cache_file.rsplit('/', 1)[-1]), 'w')
    fcntl.flock(fp, fcntl.LOCK_EX)
    _held_locks[name] = fp


def release_template_locks(name=None):
    """Release the lock of the database name that this process was to make,
    or all of them"""
    for held in [name] if name is not None else list(_held_locks):
        fp = _held_locks.pop(held, None)
        if fp is not None:
            fp.close()


def share_sqlite_cache(folder):
    """Several SQLite test processes share the cache folder of the
    databases (scripts/test runs the SQLite tests in two processes): the
    restoring or the making of a database holds a lock named after it, so
    that the process that misses it installs it while the other waits and
    then restores it, instead of installing the same modules again or
    reading a file that is being written."""
    from trytond.tests import test_tryton
    locks = os.path.join(folder, 'locks')
    os.makedirs(locks, exist_ok=True)
    restore = test_tryton.restore_db_cache
    backup = test_tryton.backup_db_cache

    def restore_db_cache(name):
        release_template_locks(name)
        _hold_lock(locks, test_tryton._db_cache_file(folder, name), name)
        if restore(name):
            release_template_locks(name)
            return True
        # Kept until the database is in the cache (or its install failed)
        return False
    _locked_cache(restore_db_cache, backup)
