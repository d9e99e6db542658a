"""Demo data of the member module: tiers, streak rules, ~50 members with a
points history of points that expire after 6 months (some expired, some
expiring within the 30 days of the notice, a spending given back).  The
first member is the demo mini-program login."""
import datetime as dt
from decimal import Decimal

DEMO_MEMBER_PHONE = '13800000001'
DEMO_MEMBER_PASSWORD = 'Lotus-demo-2026'

CHINESE = [
    "李雷", "韩梅梅", "王芳", "张伟", "刘洋", "陈静", "杨帆", "赵磊", "黄丽",
    "周杰", "吴敏", "徐强", "孙悦", "马超", "朱琳", "胡斌", "郭晶", "何军",
    "高原", "林峰", "罗敏", "梁静", "宋佳", "郑浩", "谢娜", "唐宁",
    ]
ENGLISH = [
    "Alice Chen", "Brian Wong", "Catherine Liu", "David Smith",
    "Emily Zhang", "Frank Miller", "Grace Lee", "Henry Wang", "Isabel Garcia",
    "Jack Thompson", "Karen Zhou", "Leo Martin", "Mia Johnson", "Noah Brown",
    "Olivia Davis", "Peter Huang", "Queenie Ma", "Ryan Walker", "Sophie Li",
    "Tom Wilson", "Uma Patel", "Victor Xu", "Wendy Sun", "Yuki Tanaka",
    ]

EARN_REASONS = [
    ("Check-in: weekly yoga class", 20),
    ("Check-in: community meeting", 30),
    ("Booking completed: home cleaning", 120),
    ("Booking completed: appliance repair", 200),
    ("Referral bonus", 100),
    ("Birthday gift", 50),
    ]
SPEND_REASONS = [
    ("Coupon: 10 CNY off", -100),
    ("Gift: reusable bag", -150),
    ("Coupon: free delivery", -60),
    ]


def load(pool, rng, company):
    Tier = pool.get('member.tier')
    Member = pool.get('member.member')
    Configuration = pool.get('member.configuration')
    StreakRule = pool.get('member.streak.rule')
    Line = pool.get('member.points.line')
    Lang = pool.get('ir.lang')

    config = Configuration(1)
    config.timezone = 'Asia/Shanghai'
    config.streak_base_points = 10
    config.downgrade_policy = 'period_end'
    config.downgrade_period = 'year'
    config.points_validity = 6
    config.expiry_notice_days = 30
    config.streak_rules = [
        StreakRule(day=7, bonus=50, repeat=True),
        StreakRule(day=30, bonus=200),
        ]
    config.save()

    tiers = Tier.create([
            {'code': 'basic', 'name': "Basic", 'threshold': 0,
                'sequence': 10, 'discount': Decimal(0),
                'points_multiplier': Decimal(1), 'priority_days': 0,
                'free_cancel_hours': 24},
            {'code': 'silver', 'name': "Silver", 'threshold': 500,
                'sequence': 20, 'discount': Decimal(5),
                'points_multiplier': Decimal('1.2'), 'priority_days': 3,
                'free_cancel_hours': 12},
            {'code': 'gold', 'name': "Gold", 'threshold': 2000,
                'sequence': 30, 'discount': Decimal(10),
                'points_multiplier': Decimal('1.5'), 'priority_days': 7,
                'free_cancel_hours': 6},
            {'code': 'diamond', 'name': "Diamond", 'threshold': 5000,
                'sequence': 40, 'discount': Decimal(15),
                'points_multiplier': Decimal(2), 'priority_days': 14,
                'free_cancel_hours': 2},
            ])
    zh_names = {"Basic": "普通会员", "Silver": "银卡会员", "Gold": "金卡会员",
        "Diamond": "钻石会员"}
    if Lang.search([('code', '=', 'zh_CN'), ('translatable', '=', True)]):
        from trytond.transaction import Transaction
        with Transaction().set_context(language='zh_CN'):
            for tier in Tier.browse(tiers):
                Tier.write([tier], {'name': zh_names[tier.name]})

    names = [n for pair in zip(CHINESE, ENGLISH) for n in pair]
    names += CHINESE[len(ENGLISH):]
    today = config.local_date()
    now = dt.datetime.now().replace(microsecond=0)
    members = []
    for i, name in enumerate(names):
        phone = '138%08d' % (i + 1)
        members.append({
                'name': name,
                'phone': phone,
                'join_date': today - dt.timedelta(days=rng.randint(5, 700)),
                'address': rng.choice([
                        "上海市浦东新区世纪大道100号",
                        "北京市朝阳区建国路88号",
                        "广州市天河区体育西路191号",
                        "18 Nanjing West Road, Shanghai",
                        "杭州市西湖区文三路478号",
                        ]),
                })
    members = Member.create(members)
    Member.set_password([members[0]], DEMO_MEMBER_PASSWORD)

    # The demo login spent points on a booking that was cancelled: the
    # give-back (its key extends the spending's) returns them to their lots
    demo = members[0]
    Member.post_points([
            {'member': demo, 'points': 300, 'reason': "Welcome bonus",
                'date': now - dt.timedelta(days=200), 'key': 'demo:welcome'},
            {'member': demo, 'points': -150, 'reason': "Booking: massage",
                'date': now - dt.timedelta(days=190),
                'key': 'demo:booking:points'},
            {'member': demo, 'points': 150,
                'reason': "Booking cancelled: massage",
                'date': now - dt.timedelta(days=189),
                'key': 'demo:booking:points:back'},
            {'member': demo, 'points': 200, 'reason': "Referral bonus",
                'date': now - dt.timedelta(days=170), 'key': 'demo:referral'},
            ])
    for i, member in enumerate(members):
        entries = []
        balance = 0
        # A few members are new and have no history yet
        count = 0 if i % 9 == 8 else rng.randint(3, 40)
        dates = sorted(now - dt.timedelta(
                days=rng.randint(1, 240), minutes=rng.randint(0, 1440))
            for _ in range(count))
        for n, date in enumerate(dates):
            if balance > 200 and rng.random() < 0.25:
                reason, points = rng.choice(SPEND_REASONS)
            else:
                reason, points = rng.choice(EARN_REASONS)
            if balance + points < 0:
                continue
            balance += points
            entries.append({
                    'member': member, 'points': points, 'reason': reason,
                    'date': date, 'key': 'demo:%s:%s' % (member.id, n)})
        if entries:
            Member.post_points(entries)
        # Recent daily sign-ins build a streak for some members
        streak = rng.choice([0, 0, 2, 5, 8, 12])
        for offset in range(streak, 0, -1):
            Member.record_daily_activity(
                member, today - dt.timedelta(days=offset))
    # What was earned more than 6 months ago expires
    Line.expire()
    return members
