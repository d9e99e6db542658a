"""Worker process of test_points_expiry_concurrency: run the operations
given as JSON on stdin, one transaction each: spend points of a member
through post_points (kind 'spend') or run the expiry of the lots past their
day (kind 'expire', as the scheduler does), with the clock of the suite
frozen at the time given on the command line.  Print as JSON on stdout the
outcome of each and the conflicts counted by run_transaction.  With
RACE_NO_MEMBER_LOCK=1 the member lock is a no-op."""
import datetime as dt
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    from tests.tools import run_transaction
    from trytond.exceptions import UserError
    from trytond.modules.suite import clock
    from trytond.pool import Pool

    database = os.environ['DB_NAME']
    clock.freeze(dt.datetime.fromisoformat(sys.argv[1]))
    operations = json.load(sys.stdin)
    pool = Pool(database)
    pool.init()
    if os.environ.get('RACE_NO_MEMBER_LOCK') == '1':
        pool.get('member.member').lock = classmethod(
            lambda cls, records=None: None)
    results, stats = [], {}
    for op in operations:
        def run():
            pool = Pool()
            Member = pool.get('member.member')
            Line = pool.get('member.points.line')
            if op['kind'] == 'expire':
                return [l.id for l in Line.expire()]
            line, = Member.post_points([{
                        'member': op['member'],
                        'points': op['points'],
                        'reason': "Spend",
                        'key': op['key'],
                        }])
            return [line.id]
        try:
            lines = run_transaction(database, run, stats=stats)
        except UserError as e:
            results.append({'op': op, 'refused': str(e.message)})
        else:
            results.append({'op': op, 'lines': lines})
    json.dump({'results': results, 'stats': stats}, sys.stdout)


if __name__ == '__main__':
    main()
