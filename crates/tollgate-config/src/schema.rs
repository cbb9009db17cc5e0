//! The shape of `tollgate.yaml`: which keys each mapping accepts, in the order messages list them.
//!
//! Each line names the fields of one core input struct; the YAML keys are the field names, and
//! each field's type says whether it is required (`String`) or may be left out (`Option`, `Vec`).
//! A new section or key is a new field in core and its name here (plus one line for a new struct).
//! Values are only checked for shape here; their meaning is checked by `tollgate_core::apply`.

use tollgate_core::apply::ApplyInput;
use tollgate_core::environment::EnvironmentInput;
use tollgate_core::gate::GateInput;
use tollgate_core::lifecycle::LifecycleInput;
use tollgate_core::service::ServiceInput;
use tollgate_core::sso::SsoInput;
use tollgate_core::team::TeamInput;

use crate::decode::decode_mapping;

decode_mapping!(ApplyInput { teams, environments, lifecycles, services, gates, sso });

decode_mapping!(TeamInput { name, display_name, members, artifact_pattern });

decode_mapping!(EnvironmentInput { name, tier, region });

decode_mapping!(LifecycleInput { name, environments });

decode_mapping!(ServiceInput { name, owner, criticality, depends_on, description });

decode_mapping!(GateInput { name, builtin, rego, with, enforcement });

decode_mapping!(SsoInput {
    issuer,
    client_id,
    client_secret_env,
    redirect_url,
    username_claim,
    groups_claim,
    roles,
    scopes,
});
