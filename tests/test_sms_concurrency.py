"""Several processes check the same SMS codes at the same time, on
PostgreSQL: each code logs in once, whoever comes first; the others are
refused as used.

What protects it: the code is used by a conditional update (pending to
used, `Code.verify`), whose row count tells the winner.  Under REPEATABLE
READ the update of a row changed by a concurrent transaction also fails
(and the transaction starts again and finds the code used), so the
condition is what still holds under READ COMMITTED.

Mutation caught (scripts/check-races): 'sms code: unconditional use under
READ COMMITTED' by test_code_used_once."""
import json
import os
import secrets
import subprocess
import time
import unittest

from trytond.tests.test_tryton import DB_NAME, activate_module, drop_db

from .tools import require_postgresql, run_transaction, worker_command

PROCESSES = 4
CODES = 40


@require_postgresql("multi-process test: needs PostgreSQL "
    "(TRYTOND_DATABASE_URI=postgresql:///)")
class SmsConcurrencyTestCase(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        drop_db()
        activate_module(['miniprogram'])
        cls.addClassCleanup(drop_db)

    def test_code_used_once(self):
        "Each code logs in one request only"
        import datetime as dt

        from trytond import config
        from trytond.config import _config
        from trytond.modules.miniprogram.sms import hash_code
        from trytond.modules.suite import clock
        from trytond.pool import Pool

        def setup():
            pool = Pool()
            Member = pool.get('member.member')
            Code = pool.get('miniprogram.sms.code')
            items = []
            for i in range(CODES):
                phone = '+861370001%04d' % i
                member, = Member.create([{'name': "M%s" % i, 'phone': phone}])
                code = '%06d' % (123456 + i)
                Code.create([{
                            'phone': phone, 'purpose': 'login',
                            'member': member.id,
                            'code_hash': 'salt%s$%s' % (i, hash_code(
                                    'salt%s' % i, phone, 'login', code)),
                            'expires': clock.now() + dt.timedelta(hours=1),
                            }])
                items.append((phone, code))
            return items
        # The codes are hashed with a key of the secret: the same here and
        # in the workers
        secret = secrets.token_hex(32)
        if not _config.has_section('miniprogram'):
            _config.add_section('miniprogram')
        config.set('miniprogram', 'jwt_secret', secret)

        def forget():
            _config.remove_option('miniprogram', 'jwt_secret')
            config._cache_clear()
        self.addCleanup(forget)
        items = run_transaction(DB_NAME, setup)

        # real time: the processes start together once loaded
        env = dict(os.environ, DB_NAME=DB_NAME, START_AT=str(time.time() + 15),
            TRYTOND_MINIPROGRAM__JWT_SECRET=secret)
        procs = [subprocess.Popen(
                worker_command('sms_worker.py'), env=env,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            for _ in range(PROCESSES)]
        for proc in procs:
            proc.stdin.write(json.dumps(items))
            proc.stdin.close()
        outputs = []
        for proc in procs:
            out = proc.stdout.read()
            proc.stdout.close()
            self.assertEqual(proc.wait(timeout=300), 0)
            outputs.append(json.loads(out))

        wins = {phone: 0 for phone, _ in items}
        for output in outputs:
            for result in output['results']:
                if 'member' in result:
                    wins[result['phone']] += 1
                else:
                    self.assertEqual(result['refused'], 'used', result)
        self.assertEqual(
            {phone: n for phone, n in wins.items() if n != 1}, {})

        def states():
            Code = Pool().get('miniprogram.sms.code')
            return {c.state for c in Code.search([])}
        self.assertEqual(run_transaction(DB_NAME, states), {'used'})
