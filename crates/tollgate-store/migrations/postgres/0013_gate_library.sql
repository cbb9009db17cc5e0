-- The digest of the built-in gate library a decision was judged with: a decision binds to it
-- as to the policy version, so upgrading to a release of Tollgate whose built-in gates differ
-- needs a new evaluation. Decisions recorded before this column have none and are never
-- current again.
ALTER TABLE gate_decisions ADD COLUMN library_digest TEXT;
