//! The apply role on the Terraform state, the ETL repository and the deploy document, by exact
//! ARN.

use crate::lower::apply::scope::ApplyDeps;
use crate::lower::ctx::Ctx;
use crate::lower::iam_helpers::{allow, arns_of};
use crate::tf::data::Statement;
use crate::tf::ecr::AwsEcrRepository;
use crate::tf::ssm::AwsSsmDocument;

pub(super) fn delivery(ctx: &Ctx<'_>, deps: &ApplyDeps, state: Vec<Statement>) -> Vec<Statement> {
    let names = &deps.names;
    let mut statements = state;
    statements.extend([
        allow(
            "ManagePlatformRepositories",
            vec![
                "ecr:CreateRepository",
                "ecr:DeleteRepository",
                "ecr:DescribeRepositories",
                "ecr:GetLifecyclePolicy",
                "ecr:GetRepositoryPolicy",
                "ecr:ListTagsForResource",
                "ecr:PutImageScanningConfiguration",
                "ecr:PutImageTagMutability",
                "ecr:TagResource",
                "ecr:UntagResource",
            ],
            arns_of(
                ctx,
                "ecr",
                "repository/",
                &names.of_type::<AwsEcrRepository>(),
            ),
        ),
        allow(
            "ManagePlatformDocuments",
            vec![
                "ssm:AddTagsToResource",
                "ssm:CreateDocument",
                "ssm:DeleteDocument",
                "ssm:DescribeDocument",
                "ssm:DescribeDocumentPermission",
                "ssm:GetDocument",
                "ssm:ListTagsForResource",
                "ssm:RemoveTagsFromResource",
                "ssm:UpdateDocument",
                "ssm:UpdateDocumentDefaultVersion",
            ],
            arns_of(ctx, "ssm", "document/", &names.of_type::<AwsSsmDocument>()),
        ),
    ]);
    statements
}
