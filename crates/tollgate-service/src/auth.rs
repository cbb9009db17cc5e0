//! Users, API tokens and authentication.
//!
//! Token secrets are drawn here from the operating system's random source, shown once, and
//! stored only as their SHA-256.

use rand::RngCore;
use std::collections::BTreeSet;
use tollgate_authz::{Action, Context, Resource};
use tollgate_core::audit::{Actor, AuditAction, ObjectKind, ObjectRef};
use tollgate_core::name::UserName;
use tollgate_core::token::{child_expiry, ApiToken, TokenId, TokenRejection, TokenSecret};
use tollgate_core::user::{Role, User, UserInput};
use tollgate_core::Entity;
use tollgate_core::{Problem, Timestamp, Violations};
use tollgate_store::tx::NewToken;

use crate::audit::Change;
use crate::session::{random_password, Password};
use crate::{Principal, PrincipalKind, ServiceError, ServiceResult, Tollgate};

/// The longest token description accepted.
const MAX_DESCRIPTION_LEN: usize = 200;

/// The name of the administrator created on first start.
pub const BOOTSTRAP_ADMIN: &str = "admin";

/// What the first start creates for the admin: a token and a password, shown once.
#[derive(Debug, Clone)]
pub struct Bootstrapped {
    pub token: IssuedToken,
    pub password: Password,
}

/// A token just created: the only time its secret is available.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: ApiToken,
    pub secret: TokenSecret,
}

impl Tollgate {
    /// On an empty database, creates the `admin` user with a token and a random password, and
    /// signs a checkpoint over them. `keep` receives both before anything commits (the server
    /// writes them to files there): if it fails, nothing is created, so a lost secret can never
    /// leave an admin nobody can sign in as. Returns them, or `None` when users exist already.
    pub async fn bootstrap<E>(
        &self,
        keep: impl FnOnce(&Bootstrapped) -> Result<(), E>,
    ) -> ServiceResult<Result<Option<Bootstrapped>, E>> {
        // Hashed before the transaction opens: argon2id is slow on purpose.
        let password = random_password();
        let password_hash = self.hash_password(&password).await?;
        let mut tx = self.store.begin().await?;
        if !tx.list_users().await?.is_empty() {
            return Ok(Ok(None));
        }
        let admin = User {
            name: UserName::parse(BOOTSTRAP_ADMIN).expect("the bootstrap name is valid"),
            display_name: "Administrator".to_owned(),
            // Also a deployer, so a new installation can deploy to prod at all; segregation of
            // duties still keeps it from shipping what it authored.
            roles: BTreeSet::from([Role::Admin, Role::Deployer]),
        };
        let now = self.now();
        tx.insert_user(&admin, now).await?;
        let object = ObjectRef::new(ObjectKind::User, &admin.name);
        let change = Change { action: AuditAction::Create, object, before: None, after: Some(&admin), reason: None };
        self.record(&mut tx, Actor::System, None, change).await?;
        let new =
            NewTokenRequest { user: &admin.name, description: "bootstrap admin token", expires_at: None, parent: None };
        let issued = self.issue_token(&mut tx, Actor::System, None, new).await?;
        tx.set_password_hash(&admin.name, &password_hash).await?;
        let object = ObjectRef::new(ObjectKind::User, &admin.name);
        let change: Change<'_, ()> =
            Change { action: AuditAction::SetPassword, object, before: None, after: None, reason: None };
        self.record(&mut tx, Actor::System, None, change).await?;
        let bootstrapped = Bootstrapped { token: issued, password };
        if let Err(error) = keep(&bootstrapped) {
            return Ok(Err(error));
        }
        tx.commit().await?;
        self.checkpoint_now().await?;
        Ok(Ok(Some(bootstrapped)))
    }

    /// The user a bearer token belongs to, if the token is valid now.
    pub async fn authenticate(&self, presented: &str, request_id: Option<String>) -> ServiceResult<Principal> {
        let secret =
            TokenSecret::parse(presented).ok_or(ServiceError::Unauthenticated { reason: "malformed token" })?;
        let mut read = self.store.read().await?;
        let token = read
            .find_token_by_digest(&secret.digest())
            .await?
            .ok_or(ServiceError::Unauthenticated { reason: "unknown token" })?;
        token.check_usable(self.now()).map_err(|rejection| ServiceError::Unauthenticated {
            reason: match rejection {
                TokenRejection::Revoked => "token revoked",
                TokenRejection::Expired => "token expired",
            },
        })?;
        let user =
            read.find_user(&token.user).await?.ok_or(ServiceError::Unauthenticated { reason: "unknown token" })?;
        Ok(Principal { user, token: Some(token), request_id, kind: PrincipalKind::User })
    }

    pub async fn create_user(&self, principal: &Principal, input: UserInput) -> ServiceResult<User> {
        self.authorize(principal, Action::UserCreate, Resource::System, Context::default()).await?;
        let user = input.parse()?;
        let mut tx = self.store.begin().await?;
        tx.insert_user(&user, self.now()).await?;
        let object = ObjectRef::new(ObjectKind::User, &user.name);
        let change = Change { action: AuditAction::Create, object, before: None, after: Some(&user), reason: None };
        self.record_for(&mut tx, principal, change).await?;
        tx.commit().await?;
        Ok(user)
    }

    pub async fn list_users(&self, principal: &Principal) -> ServiceResult<Vec<User>> {
        self.authorize_read(principal).await?;
        Ok(self.store.read().await?.list_users().await?)
    }

    /// Issues a token for `user` (yourself, or anyone if you are an admin). The new token is a
    /// child of the one the request came with: it cannot outlive it (without an expiry asked
    /// for, it expires with it), and revoking that one revokes it.
    pub async fn create_token(
        &self,
        principal: &Principal,
        user: &str,
        description: &str,
        expires_at: Option<Timestamp>,
    ) -> ServiceResult<IssuedToken> {
        let mut violations = Violations::new();
        let user = violations.check("user", UserName::parse(user));
        violations.check("description", tollgate_core::name::check_text(description, MAX_DESCRIPTION_LEN, false));
        if expires_at.is_some_and(|at| at <= self.now()) {
            violations.push("expires_at", Problem::Invalid { reason: "lies in the past".to_owned() });
        }
        let user = violations.into_result(user)?.expect("a valid user name when there are no violations");
        let context = Context { subject: Some(user.clone()), ..Context::default() };
        self.authorize(principal, Action::TokenCreate, Resource::System, context).await?;
        let expires_at = match &principal.token {
            Some(parent) => child_expiry(parent, expires_at)?,
            None => expires_at,
        };
        let mut tx = self.store.begin().await?;
        if tx.find_user(&user).await?.is_none() {
            return Err(ServiceError::NotFound { entity: Entity::User, key: user.to_string() });
        }
        let parent = principal.token.as_ref().map(|token| token.id);
        let new = NewTokenRequest { user: &user, description, expires_at, parent };
        let issued = self.issue_token(&mut tx, principal.actor(), principal.request_id.as_deref(), new).await?;
        tx.commit().await?;
        Ok(issued)
    }

    async fn issue_token(
        &self,
        tx: &mut tollgate_store::StoreTx,
        actor: Actor,
        request_id: Option<&str>,
        new: NewTokenRequest<'_>,
    ) -> ServiceResult<IssuedToken> {
        let NewTokenRequest { user, description, expires_at, parent } = new;
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let secret = TokenSecret::from_random_bytes(bytes);
        let now = self.now();
        let prefix = secret.display_prefix();
        let new_token = NewToken {
            user,
            description,
            prefix: &prefix,
            secret_digest: secret.digest(),
            created_at: now,
            expires_at,
            parent,
        };
        let id = tx.insert_token(&new_token).await?;
        let token = ApiToken {
            id,
            user: user.clone(),
            description: description.to_owned(),
            prefix,
            created_at: now,
            expires_at,
            revoked_at: None,
            parent,
        };
        let object = ObjectRef::new(ObjectKind::Token, id);
        let change = Change { action: AuditAction::Create, object, before: None, after: Some(&token), reason: None };
        self.record(tx, actor, request_id, change).await?;
        Ok(IssuedToken { token, secret })
    }

    /// Tokens: all of them for an admin, your own otherwise.
    pub async fn list_tokens(&self, principal: &Principal) -> ServiceResult<Vec<ApiToken>> {
        let mut read = self.store.read().await?;
        let all = self
            .decide_in(&mut read, principal, Action::TokenListAll, Resource::System, Context::default())
            .await?
            .allowed;
        let user = (!all).then_some(&principal.user.name);
        Ok(read.list_tokens(user).await?)
    }

    /// Revokes a token (your own, or anyone's if you are an admin) and every token created
    /// with it, each with its own audit entry. Returns the token asked for.
    pub async fn revoke_token(&self, principal: &Principal, id: TokenId) -> ServiceResult<ApiToken> {
        let owner = {
            let mut read = self.store.read().await?;
            let token = read
                .find_token(id)
                .await?
                .ok_or(ServiceError::NotFound { entity: Entity::Token, key: id.to_string() })?;
            token.user
        };
        let context = Context { subject: Some(owner), ..Context::default() };
        self.authorize(principal, Action::TokenRevoke, Resource::System, context).await?;
        let mut tx = self.store.begin().await?;
        let token =
            tx.find_token(id).await?.ok_or(ServiceError::NotFound { entity: Entity::Token, key: id.to_string() })?;
        if token.revoked_at.is_some() {
            return Err(ServiceError::Conflict { entity: Entity::Token, key: format!("{id} (already revoked)") });
        }
        let now = self.now();
        let mut revoked_token = None;
        for member in tx.token_tree(id).await? {
            let before =
                tx.find_token(member).await?.ok_or_else(|| crate::catalog::not_found(Entity::Token, member))?;
            if before.revoked_at.is_some() {
                continue;
            }
            tx.revoke_token(member, now).await?;
            let after = ApiToken { revoked_at: Some(now), ..before.clone() };
            let object = ObjectRef::new(ObjectKind::Token, member);
            let reason = (member != id).then(|| format!("token {id}, which created it, was revoked"));
            let change = Change {
                action: AuditAction::Revoke,
                object,
                before: Some(&before),
                after: Some(&after),
                reason: reason.as_deref(),
            };
            self.record_for(&mut tx, principal, change).await?;
            if member == id {
                revoked_token = Some(after);
            }
        }
        tx.commit().await?;
        Ok(revoked_token.expect("the tree of a token holds the token"))
    }
}

/// A token about to be issued.
struct NewTokenRequest<'a> {
    user: &'a UserName,
    description: &'a str,
    expires_at: Option<Timestamp>,
    parent: Option<TokenId>,
}
