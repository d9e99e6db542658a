"""Worker process of test_sms_concurrency: check the SMS codes given as JSON
on stdin ([phone, code] pairs, purpose login), one transaction each,
through miniprogram.sms.code.verify, from START_AT (a timestamp) on, and
print as JSON on stdout the outcome of each."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    from tests.tools import run_transaction
    from trytond.exceptions import UserError
    from trytond.pool import Pool

    database = os.environ['DB_NAME']
    items = json.load(sys.stdin)
    pool = Pool(database)
    pool.init()
    # real time: the processes start together
    time.sleep(max(0, float(os.environ.get('START_AT', 0)) - time.time()))
    results = []
    for phone, code in items:
        def verify():
            Code = Pool().get('miniprogram.sms.code')
            return Code.verify(phone, 'login', code).id
        try:
            member_id = run_transaction(database, verify)
        except UserError as e:
            results.append({'phone': phone,
                    'refused': getattr(e, 'details', {}).get('reason')})
        else:
            results.append({'phone': phone, 'member': member_id})
    json.dump({'results': results}, sys.stdout)


if __name__ == '__main__':
    main()
