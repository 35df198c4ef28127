"""Deploy deploy/cloudformation/rootvault-root-signin-watch.yaml into the local AWS emulator.

Used by scripts/test: creates the central stack (bus, queue, dead-letter queue, policies)
and a watched stack forwarding to it, then puts root sign-in events of both detail-type
spellings, and one of an IAM user, on the bus, checks that exactly the root ones reach
the queue, and deletes them, leaving the queue empty. Prints the bus and the queue as
`export` lines for scripts/test to eval (the integration test of the service's consumer,
tests/api/watch.rs, uses them); everything else goes to stderr. Never talks to AWS itself.
"""

import json
import os
import pathlib
import sys
import time

import boto3

ENDPOINT = os.environ["ROOTVAULT_TEST_KMS_ENDPOINT"]
if not ENDPOINT.startswith("http://127.0.0.1:"):
    sys.exit("refusing to deploy anywhere but the local emulator")

TEMPLATE = (pathlib.Path(__file__).resolve().parents[1] / "cloudformation" / "rootvault-root-signin-watch.yaml").read_text()


def client(name):
    return boto3.client(name, endpoint_url=ENDPOINT, region_name="us-east-1")


def deploy(cfn, name, parameters):
    cfn.create_stack(
        StackName=name,
        TemplateBody=TEMPLATE,
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM"],
    )
    for _ in range(100):
        stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
        if not stack["StackStatus"].endswith("IN_PROGRESS"):
            break
        time.sleep(0.1)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def main():
    cfn = client("cloudformation")
    suffix = int(time.time() * 1000)
    central = deploy(
        cfn,
        f"rootvault-watch-central-{suffix}",
        {
            "Mode": "central",
            "ServiceRoleArn": "arn:aws:iam::123456789012:role/rootvault",
            "WatchedAccountIds": "111111111111,222222222222",
        },
    )
    deploy(cfn, f"rootvault-watch-watched-{suffix}", {"Mode": "watched", "CentralBusArn": central["RootSigninBusArn"]})

    events, sqs = client("events"), client("sqs")
    bus = central["RootSigninBusArn"].rsplit("/", 1)[1]

    def put(detail_type, user_type):
        detail = {"userIdentity": {"type": user_type}, "eventName": "ConsoleLogin", "eventID": f"{detail_type}-{user_type}"}
        entry = {"Source": "aws.signin", "DetailType": detail_type, "Detail": json.dumps(detail), "EventBusName": bus}
        assert events.put_events(Entries=[entry])["FailedEntryCount"] == 0

    put("AWS Console Sign In via CloudTrail", "Root")
    put("AWS Console Signin via CloudTrail", "Root")
    put("AWS Console Sign In via CloudTrail", "IAMUser")
    received = []
    for _ in range(5):
        answer = sqs.receive_message(QueueUrl=central["RootSigninQueueUrl"], WaitTimeSeconds=1, MaxNumberOfMessages=10)
        received += answer.get("Messages", [])
        if len(received) >= 2:
            break
    kinds = sorted(json.loads(m["Body"])["detail-type"] for m in received)
    assert kinds == ["AWS Console Sign In via CloudTrail", "AWS Console Signin via CloudTrail"], kinds
    for message in received:
        sqs.delete_message(QueueUrl=central["RootSigninQueueUrl"], ReceiptHandle=message["ReceiptHandle"])
    print(
        "root sign-in watch stacks deployed; both spellings of root sign-ins reach the queue, others do not",
        file=sys.stderr,
    )
    print(f"export ROOTVAULT_TEST_WATCH_BUS={bus} ROOTVAULT_TEST_WATCH_QUEUE_URL={central['RootSigninQueueUrl']}")


if __name__ == "__main__":
    main()
