"""Worker process of the message tests: `token` prints the WeChat access
token got through the shared holder; `cron MODEL METHOD NOW` runs a cron
method at the time NOW (ISO) and prints the number of messages queued."""
import datetime as dt
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    from tests.tools import run_transaction
    from trytond.pool import Pool

    database = os.environ['DB_NAME']
    Pool(database).init()
    action = sys.argv[1]
    if action == 'token':
        def get():
            return Pool().get('outbox.wechat.token').get_token()
        print(run_transaction(database, get))
    elif action == 'cron':
        model, method, now = sys.argv[2:5]
        now = dt.datetime.fromisoformat(now)

        def run():
            return len(getattr(Pool().get(model), method)() or [])
        print(run_transaction(database, run, context={
                    '_clock_now': now}))


if __name__ == '__main__':
    main()
