"""Worker process of test_points_concurrency: post the operations given as
JSON on stdin to the ledger, one transaction each, through post_points
(kind 'post', the back office) or credit_points (kind 'credit', the
check-in path), and print as JSON on stdout the outcome of each and the
conflicts counted by run_transaction.  With RACE_NO_MEMBER_LOCK=1 the
member lock is a no-op (the test of what protects the ledger without it)."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    from tests.tools import run_transaction
    from trytond.exceptions import UserError
    from trytond.pool import Pool

    database = os.environ['DB_NAME']
    operations = json.load(sys.stdin)
    pool = Pool(database)
    pool.init()
    if os.environ.get('RACE_NO_MEMBER_LOCK') == '1':
        pool.get('member.member').lock = classmethod(
            lambda cls, records=None: None)
    results, stats = [], {}
    for op in operations:
        def post():
            Member = Pool().get('member.member')
            if op['kind'] == 'credit':
                line_id, _ = Member.credit_points(
                    op['member'], op['points'], op['reason'], key=op['key'])
                return line_id
            line, = Member.post_points([{
                        'member': op['member'],
                        'points': op['points'],
                        'reason': op['reason'],
                        'key': op['key'],
                        }])
            return line.id
        try:
            line_id = run_transaction(database, post, stats=stats)
        except UserError as e:
            results.append({'key': op['key'], 'refused': str(e.message)})
        else:
            results.append({'key': op['key'], 'line': line_id})
    json.dump({'results': results, 'stats': stats}, sys.stdout)


if __name__ == '__main__':
    main()
