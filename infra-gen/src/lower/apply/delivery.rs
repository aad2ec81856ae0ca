//! The apply role on the Terraform state, the ETL repository and the deploy document.

use crate::lower::ctx::Ctx;
use crate::lower::iam_helpers::allow;
use crate::tf::data::Statement;

pub(super) fn delivery(ctx: &Ctx<'_>, state: Vec<Statement>) -> Vec<Statement> {
    let name = &ctx.platform.name;
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
            vec![ctx.arn("ecr", &format!("repository/{name}-*"))],
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
            vec![ctx.arn("ssm", &format!("document/{name}-*"))],
        ),
    ]);
    statements
}
