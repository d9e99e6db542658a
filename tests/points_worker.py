"""Worker process of test_points_concurrency: post the operations given as
JSON on stdin to the ledger, one transaction each, and print the outcome of
each as JSON on stdout."""
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
    Pool(database).init()
    results = []
    for op in operations:
        def post():
            Member = Pool().get('member.member')
            line, = Member.post_points([{
                        'member': op['member'],
                        'points': op['points'],
                        'reason': op['reason'],
                        'key': op['key'],
                        }])
            return line.id
        try:
            line_id = run_transaction(database, post)
        except UserError as e:
            results.append({'key': op['key'], 'refused': str(e.message)})
        else:
            results.append({'key': op['key'], 'line': line_id})
    json.dump(results, sys.stdout)


if __name__ == '__main__':
    main()
