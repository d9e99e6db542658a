"""Worker process of test_points_concurrency: post the operations given as
JSON on stdin to the ledger, one transaction each, through post_points
(kind 'post', the back office) or the ledger's member.points.line.post
(kind 'credit', as the check-ins call it: since issue 18 the one
posting), and print as JSON on stdout the outcome of each and the
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
            PointsLine = Pool().get('member.points.line')
            # Since issue 18 both reach the one posting: 'credit' calls the
            # ledger's post as the check-ins do, 'post' the back office's
            # Member.post_points
            posting = PointsLine.post if op['kind'] == 'credit' else (
                Member.post_points)
            line, = posting([{
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
