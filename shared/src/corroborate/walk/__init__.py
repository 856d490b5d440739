"""One referral walked through the three services over HTTP, written once.

``samples`` holds the referral, findings and files a walk fills in; ``calls`` the way a step
reaches a service (one attempt, or a patient caller that waits out outages) and the wait for
something to appear; ``steps`` the walk itself, step by step, as the people who take them. The
demo, the benchmark and the cross-service tests all walk referrals with it.
"""
