//! Talking to the OpenID Connect provider with the `openidconnect` crate: discovery (cached), the
//! authorization URL with state, nonce and a PKCE S256 challenge, the code exchange, and the
//! validation of the ID token (signature by a key of the provider's JWKS, issuer, audience,
//! expiry against the service clock, nonce, and the access token hash when present).
//!
//! It decides nothing about users or roles, and keeps nothing but the discovery document: the
//! pending sign-ins are in the database, so any replica finishes what another began.

use std::time::Duration;

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType, CoreGenderClaim, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreProviderMetadata, CoreRevocableToken,
    CoreRevocationErrorResponse, CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AccessTokenHash, AdditionalClaims, AuthorizationCode, Client, ClientId, ClientSecret, CsrfToken,
    EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet, IdTokenFields, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope,
    StandardErrorResponse, StandardTokenResponse, TokenResponse,
};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use tollgate_core::sso::SsoConfig;
use tollgate_core::Timestamp;

use crate::{ServiceError, ServiceResult};

/// How long a discovery document (endpoints and signing keys) is used before it is fetched again.
const DISCOVERY_TTL: jiff::SignedDuration = jiff::SignedDuration::from_secs(300);

/// The signature algorithms accepted on ID tokens: asymmetric only, so a token is signed by
/// the provider's key and never by the client secret.
const ALLOWED_ALGORITHMS: &[CoreJwsSigningAlgorithm] = &[
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// Every claim of an ID token that is not a standard one (`groups`, or whatever the settings
/// name), kept as JSON.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct OtherClaims {
    #[serde(flatten)]
    claims: serde_json::Map<String, serde_json::Value>,
}

impl AdditionalClaims for OtherClaims {}

type IdTokenFieldsWithClaims = IdTokenFields<
    OtherClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

type ProviderTokenResponse = StandardTokenResponse<IdTokenFieldsWithClaims, CoreTokenType>;

/// The client as discovery builds it: an authorization endpoint, maybe a token endpoint.
type ProviderClient = Client<
    OtherClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    ProviderTokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The HTTP client for the provider and the discovery document last fetched.
pub struct Provider {
    http: reqwest::Client,
    discovered: Mutex<Option<Discovered>>,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider").finish_non_exhaustive()
    }
}

struct Discovered {
    issuer: String,
    fetched_at: Timestamp,
    metadata: CoreProviderMetadata,
}

/// Where to send the browser, and what the callback needs to finish the sign-in.
pub(crate) struct Authorization {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub verifier: String,
}

/// What a validated ID token says about who signed in.
#[derive(Debug)]
pub(crate) struct VerifiedIdentity {
    pub issuer: String,
    pub subject: String,
    /// Every claim of the ID token, standard ones included, as JSON.
    pub claims: serde_json::Map<String, serde_json::Value>,
}

/// Whether a cached discovery document may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Freshness {
    Cached,
    Refetch,
}

impl Provider {
    /// A provider client whose requests give up after `timeout` and never follow redirects
    /// (a redirect could point a server-side request anywhere).
    pub fn new(timeout: Duration) -> ServiceResult<Provider> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|error| unavailable(format!("the HTTP client cannot be built: {error}")))?;
        Ok(Provider { http, discovered: Mutex::new(None) })
    }

    /// The authorization URL for `config`, with fresh random state, nonce and PKCE verifier.
    pub(crate) async fn authorize(&self, config: &SsoConfig, now: Timestamp) -> ServiceResult<Authorization> {
        let client = self.client(config, None, now, Freshness::Cached).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request =
            client.authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random);
        // The client adds `openid` itself.
        for scope in config.scopes.iter().filter(|scope| *scope != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        Ok(Authorization {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            verifier: verifier.secret().clone(),
        })
    }

    /// Exchanges `code` with `verifier` at the token endpoint and validates the ID token
    /// against `nonce` at `now`. A token signed by a key the cached document does not list is
    /// checked again after fetching the document anew (the provider may have rotated keys).
    pub(crate) async fn redeem(
        &self,
        config: &SsoConfig,
        secret: ClientSecret,
        code: &str,
        verifier: &str,
        nonce: &str,
        now: Timestamp,
    ) -> ServiceResult<VerifiedIdentity> {
        let client = self.client(config, Some(secret.clone()), now, Freshness::Cached).await?;
        let request = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|_| unavailable("the provider's discovery document names no token endpoint".to_owned()))?
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()));
        let response = request.request_async(&self.http).await.map_err(token_error)?;
        let nonce = Nonce::new(nonce.to_owned());
        match verify(&client, &response, &nonce, now) {
            Err(Verification::UnknownKey) => {
                let client = self.client(config, Some(secret), now, Freshness::Refetch).await?;
                verify(&client, &response, &nonce, now).map_err(Verification::into_error)
            }
            verified => verified.map_err(Verification::into_error),
        }
    }

    async fn client(
        &self,
        config: &SsoConfig,
        secret: Option<ClientSecret>,
        now: Timestamp,
        freshness: Freshness,
    ) -> ServiceResult<ProviderClient> {
        let metadata = self.metadata(&config.issuer, now, freshness).await?;
        let redirect = RedirectUrl::new(config.redirect_url.clone())
            .map_err(|error| unavailable(format!("sso.redirect_url does not parse: {error}")))?;
        Ok(ProviderClient::from_provider_metadata(metadata, ClientId::new(config.client_id.clone()), secret)
            .set_redirect_uri(redirect))
    }

    /// The discovery document of `issuer`: the cached one while it is young enough, otherwise
    /// fetched (one fetch at a time; others wait for it and use it).
    async fn metadata(
        &self,
        issuer: &str,
        now: Timestamp,
        freshness: Freshness,
    ) -> ServiceResult<CoreProviderMetadata> {
        let mut discovered = self.discovered.lock().await;
        if let Some(cached) = discovered.as_ref() {
            let young = now.duration_since(cached.fetched_at) < DISCOVERY_TTL;
            if cached.issuer == issuer && young && freshness == Freshness::Cached {
                return Ok(cached.metadata.clone());
            }
        }
        let issuer_url = IssuerUrl::new(issuer.to_owned())
            .map_err(|error| unavailable(format!("sso.issuer does not parse: {error}")))?;
        let metadata = CoreProviderMetadata::discover_async(issuer_url, &self.http).await.map_err(|error| {
            unavailable(format!("the discovery document of {issuer} cannot be used: {}", error_chain(&error)))
        })?;
        *discovered = Some(Discovered { issuer: issuer.to_owned(), fetched_at: now, metadata: metadata.clone() });
        Ok(metadata)
    }
}

/// Why an ID token was not accepted.
enum Verification {
    /// It names a signing key the discovery document does not list.
    UnknownKey,
    Rejected(String),
}

impl Verification {
    fn into_error(self) -> ServiceError {
        match self {
            Verification::UnknownKey => {
                rejected("the ID token is signed by a key the provider does not publish".to_owned())
            }
            Verification::Rejected(reason) => rejected(reason),
        }
    }
}

fn verify(
    client: &ProviderClient,
    response: &ProviderTokenResponse,
    nonce: &Nonce,
    now: Timestamp,
) -> Result<VerifiedIdentity, Verification> {
    let Some(id_token) = response.id_token() else {
        return Err(Verification::Rejected("the provider sent no ID token".to_owned()));
    };
    let now = chrono::DateTime::from_timestamp_micros(now.as_microsecond())
        .expect("a jiff timestamp is within chrono's range");
    let verifier =
        client.id_token_verifier().set_allowed_algs(ALLOWED_ALGORITHMS.iter().cloned()).set_time_fn(move || now);
    let claims = id_token.claims(&verifier, nonce).map_err(|error| match error {
        openidconnect::ClaimsVerificationError::SignatureVerification(
            openidconnect::SignatureVerificationError::NoMatchingKey,
        ) => Verification::UnknownKey,
        other => Verification::Rejected(format!("the ID token is not valid: {}", error_chain(&other))),
    })?;
    if let Some(expected) = claims.access_token_hash() {
        let algorithm = id_token.signing_alg().map_err(|e| Verification::Rejected(e.to_string()))?;
        let key = id_token.signing_key(&verifier).map_err(|e| Verification::Rejected(e.to_string()))?;
        let actual = AccessTokenHash::from_token(response.access_token(), algorithm, key)
            .map_err(|e| Verification::Rejected(e.to_string()))?;
        if actual != *expected {
            return Err(Verification::Rejected("the ID token's at_hash does not match the access token".to_owned()));
        }
    }
    let serde_json::Value::Object(all) = serde_json::to_value(claims).expect("claims serialize to JSON") else {
        return Err(Verification::Rejected("the ID token's claims are not an object".to_owned()));
    };
    Ok(VerifiedIdentity { issuer: claims.issuer().to_string(), subject: claims.subject().to_string(), claims: all })
}

/// A failed code exchange: refused codes are the sign-in's fault; everything else the
/// provider's or this server's.
fn token_error<E: std::error::Error + 'static>(
    error: RequestTokenError<E, StandardErrorResponse<CoreErrorResponseType>>,
) -> ServiceError {
    match error {
        RequestTokenError::ServerResponse(response) => {
            let described = match response.error_description() {
                Some(description) => format!("{} ({description})", response.error()),
                None => response.error().to_string(),
            };
            match response.error() {
                CoreErrorResponseType::InvalidClient | CoreErrorResponseType::UnauthorizedClient => unavailable(format!(
                    "the provider refused this server's client credentials: {described}; check sso.client_id and the secret in the sso.client_secret_env variable"
                )),
                _ => rejected(format!("the provider refused the authorization code: {described}")),
            }
        }
        RequestTokenError::Request(error) => {
            unavailable(format!("the token endpoint cannot be reached: {}", error_chain(&error)))
        }
        // The body is not quoted: it may hold tokens.
        RequestTokenError::Parse(error, _) => unavailable(format!("the token response does not parse: {error}")),
        RequestTokenError::Other(reason) => unavailable(format!("the token request failed: {reason}")),
    }
}

fn unavailable(reason: String) -> ServiceError {
    ServiceError::SsoUnavailable { reason }
}

fn rejected(reason: String) -> ServiceError {
    ServiceError::SsoRejected { reason }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut chain = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        chain.push_str(": ");
        chain.push_str(&cause.to_string());
        source = cause.source();
    }
    chain
}
