"""Prepares the two moto servers of scripts/objstore.sh and prints the
export lines: a bucket on the open server, and on the one that checks keys
an IAM user with a key allowed everything and a bucket holding table
`s`.`t` (rows 1, 2, 3). Usage: objstore_s3.py PORT AUTH_PORT"""
import json
import sys

import boto3

endpoint = f"http://127.0.0.1:{sys.argv[1]}"
auth_endpoint = f"http://127.0.0.1:{sys.argv[2]}"


def client(service, url, key, secret):
    return boto3.client(service, endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id=key, aws_secret_access_key=secret)


client("s3", endpoint, "test", "test").create_bucket(Bucket="importer-test")
iam = client("iam", auth_endpoint, "bootstrap", "bootstrap")
iam.create_user(UserName="importer-test")
key = iam.create_access_key(UserName="importer-test")["AccessKey"]
iam.put_user_policy(UserName="importer-test", PolicyName="all", PolicyDocument=json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}))
s3 = client("s3", auth_endpoint, key["AccessKeyId"], key["SecretAccessKey"])
s3.create_bucket(Bucket="importer-auth")
s3.put_object(Bucket="importer-auth", Key="s.t-schema.sql",
              Body=b"CREATE TABLE `t` (`id` int NOT NULL, PRIMARY KEY (`id`));\n")
s3.put_object(Bucket="importer-auth", Key="s.t.000000000.csv", Body=b"id\n1\n2\n3\n")
print(f"export IMPORTER_TEST_S3_ENDPOINT={endpoint}")
print("export IMPORTER_TEST_S3_BUCKET=importer-test")
print(f"export IMPORTER_TEST_S3_AUTH_ENDPOINT={auth_endpoint}")
print(f"export IMPORTER_TEST_S3_AUTH_ACCESS_KEY={key['AccessKeyId']}")
print(f"export IMPORTER_TEST_S3_AUTH_SECRET_KEY={key['SecretAccessKey']}")
print("export IMPORTER_TEST_S3_AUTH_BUCKET=importer-auth")
