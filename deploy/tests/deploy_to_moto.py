"""Deploy deploy/cloudformation/rootvault-keys.yaml into the local AWS emulator.

Used by scripts/test: creates the stack with boto3 (the AWS SDK for Python)
against the moto server given by ROOTVAULT_TEST_KMS_ENDPOINT, checks that
both keys exist with rotation enabled and distinct policies, and prints the
outputs as shell assignments for the Rust tests that then run the service
against the created keys. Never talks to AWS itself.
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

TEMPLATE = pathlib.Path(__file__).resolve().parents[1] / "cloudformation" / "rootvault-keys.yaml"
ACCOUNT = "123456789012"


def client(name):
    return boto3.client(name, endpoint_url=ENDPOINT, region_name="us-east-1")


def check_policies():
    """The disjointness the template promises, read from the template itself
    (the emulator stores but does not evaluate key policies)."""
    from cfnlint.decode import decode

    template, errors = decode(str(TEMPLATE))
    assert not errors, errors
    resources = template["Resources"]
    policies = {name: resources[name]["Properties"]["KeyPolicy"]["Statement"] for name in ("PasswordKey", "MfaKey")}
    decrypters = {}
    for key, statements in policies.items():
        sids = {s["Sid"] for s in statements}
        assert {"NoDeletionButByKeyAdmin", "ServiceUsesKeyOnlyWithRootvaultContext"} <= sids, sids
        service = next(s for s in statements if s["Sid"] == "ServiceUsesKeyOnlyWithRootvaultContext")
        assert sorted(service["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"], service
        assert service["Condition"]["ForAllValues:StringEquals"]["kms:EncryptionContextKeys"] == ["account_id", "half", "version"]
        decrypters[key] = {
            json.dumps(s["Principal"], sort_keys=True, default=str)
            for s in statements
            if s["Effect"] == "Allow" and s["Action"] == "kms:Decrypt"
        }
        assert resources[key]["Properties"]["EnableKeyRotation"] is True
    assert decrypters["PasswordKey"].isdisjoint(decrypters["MfaKey"]), "each key's Decrypt goes to a different role"


def main():
    cfn = client("cloudformation")
    stack = f"rootvault-test-{int(time.time() * 1000)}"
    cfn.create_stack(
        StackName=stack,
        TemplateBody=TEMPLATE.read_text(),
        Parameters=[
            {"ParameterKey": "ServiceRoleArn", "ParameterValue": f"arn:aws:iam::{ACCOUNT}:role/rootvault-service"},
            {"ParameterKey": "KeyAdminRoleArn", "ParameterValue": f"arn:aws:iam::{ACCOUNT}:role/rootvault-key-admin"},
            {"ParameterKey": "PasswordCustodianPrincipalArn", "ParameterValue": f"arn:aws:iam::{ACCOUNT}:role/password-custodians"},
            {"ParameterKey": "MfaCustodianPrincipalArn", "ParameterValue": f"arn:aws:iam::{ACCOUNT}:role/mfa-custodians"},
        ],
        Capabilities=["CAPABILITY_IAM"],
    )
    deadline = time.time() + 60
    while True:
        status = cfn.describe_stacks(StackName=stack)["Stacks"][0]
        if status["StackStatus"] == "CREATE_COMPLETE":
            break
        if status["StackStatus"].endswith("FAILED") or "ROLLBACK" in status["StackStatus"]:
            sys.exit(f"stack failed: {status['StackStatus']} {status.get('StackStatusReason', '')}")
        if time.time() > deadline:
            sys.exit("stack creation timed out")
        time.sleep(0.2)
    outputs = {o["OutputKey"]: o["OutputValue"] for o in status["Outputs"]}

    kms = client("kms")
    for name in ("PasswordKeyArn", "MfaKeyArn"):
        assert kms.get_key_rotation_status(KeyId=outputs[name])["KeyRotationEnabled"], f"{name}: rotation is off"
    assert outputs["PasswordKeyArn"] != outputs["MfaKeyArn"]
    assert outputs["SharedPayerMfaKeyArn"] == outputs["MfaKeyArn"], "no customer key given"
    check_policies()
    print(f"export ROOTVAULT_TEST_CFN_PASSWORD_KEY={outputs['PasswordKeyArn']}")
    print(f"export ROOTVAULT_TEST_CFN_MFA_KEY={outputs['MfaKeyArn']}")


if __name__ == "__main__":
    main()
