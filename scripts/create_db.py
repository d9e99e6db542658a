#!/usr/bin/env python3
"""Create a Tryton database with every module of this suite activated.

The database is a SQLite file under var/db by default, or a PostgreSQL
database with --uri.  The admin password is read from the file named by
TRYTONPASSFILE, or generated and printed (and kept in var/NAME.admin for
scripts/demo).  A company is created and the module configuration wizard is
completed, so the first login goes straight to the menu.  With --demo the
demo data of each activated module is loaded (scripts/demodata/<module>.py).
"""
import argparse
import importlib
import os
import random
import secrets
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

# In dependency order; only those present under modules/ are activated.
SUITE = [
    'suite', 'outbox', 'member', 'checkin', 'service_booking', 'miniprogram']
# The bridges to Tryton's own modules (the erp extra of setup.py), which
# the core above does not need: activated when those modules are installed
BRIDGES = [
    'checkin_attendance', 'service_booking_timesheet', 'service_booking_sale']


def suite_modules():
    """The suite's modules present here, with the bridges whose Tryton
    modules are installed (SUITE_MODULES=a,b selects some)"""
    wanted = [m for m in os.environ.get('SUITE_MODULES', '').split(',') if m]
    return [m for m in (wanted or SUITE + BRIDGES)
        if os.path.isfile(os.path.join(ROOT, 'modules', m, 'tryton.cfg'))
        and (m not in BRIDGES or installable(m))]


def extras(module):
    """The extras_depend of the module of modules/: Tryton's modules that a
    bridge works with (without them Tryton registers nothing of it)"""
    import configparser
    config = configparser.ConfigParser()
    config.read(os.path.join(ROOT, 'modules', module, 'tryton.cfg'))
    return config.get('tryton', 'extras_depend', fallback='').split()


def activated_with(modules):
    """The modules to activate for modules: with the extras of the bridges
    (trytond-admin --activate-dependencies activates the depends only)"""
    result = list(modules)
    for module in modules:
        if module in BRIDGES:
            result += [m for m in extras(module) if m not in result]
    return result


def installable(module):
    """Tell if the modules that the module of modules/ depends on, and the
    Tryton modules of a bridge, are here or installed (importable as
    trytond.modules.<name>)"""
    import configparser
    import importlib.util
    config = configparser.ConfigParser()
    config.read(os.path.join(ROOT, 'modules', module, 'tryton.cfg'))
    for name in config.get('tryton', 'depends', fallback='').split() + (
            extras(module)):
        if name in {'ir', 'res'} or os.path.isfile(
                os.path.join(ROOT, 'modules', name, 'tryton.cfg')):
            continue
        try:
            if importlib.util.find_spec('trytond.modules.' + name) is None:
                return False
        except ImportError:
            return False
    return True


def server_env(uri=None):
    "The environment shared by the scripts that run trytond"
    env = os.environ.copy()
    env['TRYTOND_CONFIG'] = os.path.join(ROOT, 'tryton.conf')
    env['TRYTOND_DATABASE__PATH'] = os.path.join(ROOT, 'var', 'db')
    env.setdefault('TRYTOND_WEB__ROOT', os.path.join(ROOT, 'var', 'sao'))
    secret = os.path.join(ROOT, 'var', 'jwt_secret')
    if not env.get('TRYTOND_MINIPROGRAM__JWT_SECRET') and os.path.exists(
            secret):
        with open(secret) as fp:
            env['TRYTOND_MINIPROGRAM__JWT_SECRET'] = fp.read().strip()
    if uri:
        env['TRYTOND_DATABASE__URI'] = uri
    return env


def bin_(name):
    return os.path.join(ROOT, '.venv', 'bin', name)


def database_exists(name, uri):
    if uri and uri.startswith('postgresql'):
        import psycopg
        with psycopg.connect(_pg_admin_uri(uri), autocommit=True) as conn:
            cur = conn.execute(
                'SELECT 1 FROM pg_database WHERE datname = %s', (name,))
            return cur.fetchone() is not None
    path = os.path.join(ROOT, 'var', 'db', name + '.sqlite')
    return os.path.exists(path) and os.path.getsize(path) > 0


def _pg_admin_uri(uri):
    from urllib.parse import urlsplit, urlunsplit
    parts = urlsplit(uri)
    if not parts.netloc:
        # urlunsplit would drop the empty authority of postgresql:///
        return '%s:///postgres%s' % (
            parts.scheme, '?' + parts.query if parts.query else '')
    return urlunsplit(parts._replace(path='/postgres'))


def create_empty(name, uri, drop=False):
    if uri and uri.startswith('postgresql'):
        import psycopg
        from psycopg import sql
        with psycopg.connect(_pg_admin_uri(uri), autocommit=True) as conn:
            if drop:
                conn.execute(sql.SQL('DROP DATABASE IF EXISTS {} WITH (FORCE)')
                    .format(sql.Identifier(name)))
            conn.execute(sql.SQL("CREATE DATABASE {} ENCODING 'UTF8' "
                    "TEMPLATE template0").format(sql.Identifier(name)))
    else:
        directory = os.path.join(ROOT, 'var', 'db')
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, name + '.sqlite')
        if drop and os.path.exists(path):
            os.remove(path)
        open(path, 'a').close()


def run_admin(env, *args, input=None):
    cmd = [bin_('trytond-admin'), '-d', env['_DB']] + list(args)
    subprocess.run(cmd, env=env, check=True, input=input, text=True)


def finish_setup(name, env, company_name, demo, seed):
    "Company, configuration wizard and demo data, inside trytond"
    code = (
        'import sys; sys.path.insert(0, %r); '
        'from scripts.create_db import _finish_in_process; '
        '_finish_in_process(%r, %r, %r, %r)' % (
            ROOT, name, company_name, demo, seed))
    subprocess.run([bin_('python'), '-c', code], env=env, check=True)


def in_transaction(name, func, context=None):
    """Run func(pool) in a committed transaction of database name as root,
    restarting it when a lock must be taken first (Tryton 8.0 protocol)"""
    from trytond.modules.suite.tools import committed
    from trytond.pool import Pool
    return committed(name, lambda: func(Pool()), context=context)


def _finish_in_process(name, company_name, demo, seed):
    from trytond.pool import Pool

    Pool(name).init()

    def setup(pool):
        company = _setup_company(pool, company_name)
        _complete_config_wizard(pool)
        return company.id
    company_id = in_transaction(name, setup)
    if not demo:
        return
    activated = _activated(name)
    for module in suite_modules():
        if module not in activated:
            continue
        path = os.path.join(ROOT, 'scripts', 'demodata', module + '.py')
        if not os.path.exists(path):
            continue
        loader = importlib.import_module('scripts.demodata.' + module)
        print("demo: loading %s" % module, flush=True)

        def load(pool):
            # A restarted transaction replays the same data
            rng = random.Random('%s-%s' % (seed, module))
            company = pool.get('company.company')(company_id)
            loader.load(pool, rng, company)
        in_transaction(name, load, context={'company': company_id})


def _activated(name):
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    with Transaction().start(name, 0, readonly=True):
        Module = Pool().get('ir.module')
        return {m.name for m in Module.search([('state', '=', 'activated')])}


def _setup_company(pool, company_name):
    Company = pool.get('company.company')
    Currency = pool.get('currency.currency')
    Party = pool.get('party.party')
    User = pool.get('res.user')
    Lang = pool.get('ir.lang')

    companies = Company.search([])
    if companies:
        return companies[0]
    currency, = Currency.search([('code', '=', 'CNY')]) or Currency.create([{
                'name': "Chinese Yuan Renminbi", 'code': 'CNY',
                'symbol': '¥', 'numeric_code': '156',
                'rounding': '0.01', 'digits': 2,
                }])
    party, = Party.create([{'name': company_name}])
    company, = Company.create([{
                'party': party.id,
                'currency': currency.id,
                'timezone': 'Asia/Shanghai',
                }])
    # The admin and the mini-program API user work in the company (the
    # records with a company are only visible to users of that company)
    admins = User.search([('login', 'in', ['admin', 'miniprogram'])])
    User.write(admins, {
            'companies': [('add', [company.id])],
            'company': company.id,
            })
    # Simplified Chinese can be chosen by every user
    Lang.write(Lang.search([('code', '=', 'zh_CN')]), {'translatable': True})
    return company


def _complete_config_wizard(pool):
    Item = pool.get('ir.module.config_wizard.item')
    Item.write(Item.search([('state', '!=', 'done')]), {'state': 'done'})


def main():
    parser = argparse.ArgumentParser(description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('name')
    parser.add_argument('--demo', action='store_true',
        help="load the demo data")
    parser.add_argument('--uri', help="PostgreSQL URI, e.g. "
        "postgresql://root@127.0.0.1:5432/ (default: SQLite)")
    parser.add_argument('--drop', action='store_true',
        help="drop the database first if it exists")
    parser.add_argument('--email',
        help="the admin's email address (the daily reports of the events "
        "the admin organizes go to it); none by default")
    parser.add_argument('--company', default="Lotus Home Services Co.",
        help="the company name")
    parser.add_argument('--seed', type=int, default=2026,
        help="seed of the demo data")
    args = parser.parse_args()

    if args.uri and not args.uri.startswith('postgresql'):
        parser.error("--uri must be a postgresql:// URI")
    env = server_env(args.uri)
    env['_DB'] = args.name
    if database_exists(args.name, args.uri) and not args.drop:
        print("create-db: database %r exists (use --drop to recreate it)"
            % args.name, file=sys.stderr)
        return 2
    create_empty(args.name, args.uri, drop=args.drop)

    generated = None
    passfile = os.environ.get('TRYTONPASSFILE')
    tmp = None
    if not passfile:
        generated = secrets.token_urlsafe(12)
        tmp = tempfile.NamedTemporaryFile('w', delete=False)
        tmp.write(generated)
        tmp.close()
        passfile = tmp.name
    env['TRYTONPASSFILE'] = passfile
    try:
        # No invented address: the admin organizes the demo events, and
        # their daily reports to admin@example.com failed in the outbox
        if args.email:
            run_admin(env, '--all', '--email', args.email, '-l', 'zh_CN')
        else:
            # trytond-admin asks for it: answer none
            run_admin(env, '--all', '-l', 'zh_CN', input='\n')
        modules = activated_with(suite_modules())
        if modules:
            run_admin(env, '-u', *modules, '--activate-dependencies')
    finally:
        if tmp:
            os.unlink(tmp.name)
    env.pop('TRYTONPASSFILE')
    finish_setup(args.name, env, args.company, args.demo, args.seed)

    if generated:
        keep = os.path.join(ROOT, 'var', args.name + '.admin')
        os.makedirs(os.path.dirname(keep), exist_ok=True)
        with open(os.open(keep, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
                'w') as fp:
            fp.write(generated)
        print("create-db: admin password: %s (kept in %s)" % (
                generated, os.path.relpath(keep, ROOT)))
    print("create-db: database %r ready with %s" % (
            args.name, ', '.join(suite_modules()) or 'no module'))
    return 0


if __name__ == '__main__':
    sys.exit(main())
