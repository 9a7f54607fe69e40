"""The HTTP submit API: API Gateway HTTP API, IAM-authorized (callers sign with SigV4),
in front of the thin submit function. Access logs (with the signing principal, whose
tenant the function enforces: ``conveyor.runtime.access``) with retention; default
throttling."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

ACCESS_LOG_FORMAT = (
    '{"requestId":"$context.requestId","ip":"$context.identity.sourceIp",'
    '"caller":"$context.identity.caller","principal":"$context.identity.userArn",'
    '"method":"$context.httpMethod",'
    '"path":"$context.path","status":"$context.status","latency":"$context.responseLatency"}'
)


class SubmitApi(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        api_name: str,
        function: lambda_.IFunction,
        rate_limit: int = 500,
        burst_limit: int = 1000,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
    ) -> None:
        super().__init__(scope, construct_id)
        self.api = apigw.HttpApi(
            self,
            "Api",
            api_name=api_name,
            create_default_stage=False,
            default_authorizer=authorizers.HttpIamAuthorizer(),
        )
        integration = integrations.HttpLambdaIntegration("Submit", function)
        for method, path in (
            (apigw.HttpMethod.POST, "/tasks/{type}"),
            (apigw.HttpMethod.GET, "/tasks/{id}"),
            (apigw.HttpMethod.DELETE, "/tasks/{id}"),
        ):
            self.api.add_routes(path=path, methods=[method], integration=integration)
        self.access_logs = logs.LogGroup(
            self, "AccessLogs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY
        )
        self.stage = apigw.CfnStage(
            self,
            "Stage",
            api_id=self.api.api_id,
            stage_name="$default",
            auto_deploy=True,
            default_route_settings=apigw.CfnStage.RouteSettingsProperty(
                throttling_rate_limit=rate_limit, throttling_burst_limit=burst_limit
            ),
            access_log_settings=apigw.CfnStage.AccessLogSettingsProperty(
                destination_arn=self.access_logs.log_group_arn, format=ACCESS_LOG_FORMAT
            ),
        )
