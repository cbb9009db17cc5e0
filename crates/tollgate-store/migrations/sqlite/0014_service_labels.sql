-- Labels on services (`security`, `pci`), separated by spaces: what policies select services
-- by, such as the teams a change advisory board needs for changes touching them.
ALTER TABLE services ADD COLUMN labels TEXT NOT NULL DEFAULT '';
