-- Bench data: :public public catalog rows and :own own images of Acme
-- Production, with the naming habits of real publishers. Loaded once into
-- a bench database, on top of the demo data:
--   psql -v public=1000000 -v own=50000 -f data.sql
\set ON_ERROR_STOP on
BEGIN;
INSERT INTO public_images (provider, region, provider_image_id, name, description, platform, architecture,
                           owner_account_number, owner_alias, created_at)
SELECT 'ec2', 'us-east-1',
       'ami-0' || substr(md5('bench' || g), 1, 16),
       CASE g % 10
         WHEN 0 THEN 'ubuntu/images/hvm-ssd/ubuntu-' || (ARRAY['focal-20.04', 'jammy-22.04', 'noble-24.04'])[1 + g % 3] || '-' || a.deb || '-server-' || d.day
         WHEN 1 THEN 'debian-' || (11 + g % 3) || '-' || a.deb || '-' || d.day || '-' || (g % 2000)
         WHEN 2 THEN 'al2023-ami-2023.' || (g % 9) || '.' || d.day || '.0-kernel-6.1-' || a.arch
         WHEN 3 THEN 'Windows_Server-' || (ARRAY['2016', '2019', '2022', '2025'])[1 + g % 4] || '-English-Full-Base-' || d.day
         WHEN 4 THEN 'RHEL-' || (8 + g % 2) || '.' || (g % 10) || '.0_HVM-' || d.day || '-' || a.arch || '-' || (g % 90) || '-Hourly2-GP3'
         WHEN 5 THEN 'suse-sles-15-sp' || (g % 7) || '-v' || d.day || '-hvm-ssd-' || a.arch
         WHEN 6 THEN 'bitnami-' || (ARRAY['wordpress', 'redmine', 'jenkins', 'gitlab', 'nginx', 'odoo'])[1 + g % 6] || '-' || (g % 7) || '.' || (g % 13) || '.' || (g % 5) || '-r' || (g % 40) || '-linux-debian-12-' || a.arch || '-hvm-ebs-nami'
         WHEN 7 THEN 'aws-marketplace/' || (ARRAY['cis-hardened', 'fortinet-fortigate', 'paloalto-vm', 'f5-big-ip', 'sophos-utm'])[1 + g % 5] || '-' || d.day || '-' || substr(md5(g::text), 1, 8)
         WHEN 8 THEN 'Fedora-Cloud-Base-' || (36 + g % 6) || '-' || d.day || '.0-hvm-us-east-1-gp3-0'
         ELSE 'amzn2-ami-kernel-5.10-hvm-2.0.' || d.day || '.0-' || a.arch || '-gp2'
       END,
       'Generated bench image ' || g,
       (ARRAY['UBUNTU', 'DEBIAN', 'AMAZON', 'WINDOWS', 'RHEL', 'SUSE', 'DEBIAN', 'UNKNOWN', 'FEDORA_CORE', 'AMAZON'])[1 + g % 10],
       CASE WHEN g % 10 = 3 THEN 'x86_64' ELSE a.arch END,
       (ARRAY['099720109477', '136693071363', '137112412989', '801119661308', '309956199498', '013907871322', '979382823631', '679593333241', '125523088429', '137112412989'])[1 + g % 10],
       (ARRAY['Canonical', 'Debian', 'amazon', 'amazon', 'Red Hat', 'SUSE', 'Bitnami', 'aws-marketplace', 'Fedora', 'amazon'])[1 + g % 10],
       timestamptz '2026-11-01' - (g % 2000) * interval '1 day'
FROM generate_series(1, :public) g
CROSS JOIN LATERAL (SELECT CASE WHEN g % 4 = 3 THEN 'arm64' ELSE 'x86_64' END AS arch,
                           CASE WHEN g % 4 = 3 THEN 'arm64' ELSE 'amd64' END AS deb) a
CROSS JOIN LATERAL (SELECT to_char(date '2020-01-01' + (g % 2000), 'YYYYMMDD') AS day) d;

WITH acme AS (SELECT id, provider_account_number FROM accounts WHERE name = 'Acme Production'),
     owner AS (SELECT u.id AS user_id, gm.group_id FROM users u JOIN group_members gm ON gm.user_id = u.id
               WHERE u.email = 'manager@acme.test'),
     code AS (SELECT id FROM budget_codes WHERE name = 'Operations' AND company_id = (SELECT company_id FROM accounts WHERE name = 'Acme Production')),
     images AS (
       INSERT INTO provider_images (provider, region, provider_image_id, platform, architecture, state,
                                    owner_account_number, created_at)
       SELECT 'ec2', 'us-east-1', 'ami-0' || substr(md5('own' || g), 1, 16),
              (ARRAY['UBUNTU', 'DEBIAN', 'AMAZON', 'WINDOWS', 'RHEL'])[1 + g % 5],
              CASE WHEN g % 3 = 0 THEN 'arm64' ELSE 'x86_64' END, 'ACTIVE', (SELECT provider_account_number FROM acme),
              timestamptz '2026-11-01' - g * interval '37 minutes'
       FROM generate_series(1, :own) g
       RETURNING id, provider_image_id, created_at)
INSERT INTO image_records (account_id, provider_image_id, name, description, label, owner_user_id, owner_group_id,
                           budget_code_id, source, created_at)
SELECT (SELECT id FROM acme), i.id,
       (ARRAY['web', 'api', 'worker', 'db', 'cache', 'search', 'batch', 'edge'])[1 + n % 8] || '-' ||
       (ARRAY['frontend', 'backend', 'primary', 'replica', 'canary', 'golden'])[1 + n % 6] || '-' || (2020 + n % 7) || '.' || (1 + n % 12) || '-' || n,
       'Built by the ' || (ARRAY['release', 'nightly', 'hotfix'])[1 + n % 3] || ' pipeline',
       (ARRAY['none', 'blue', 'green', 'red', 'yellow', 'flagred', 'iconstar'])[1 + n % 7],
       (SELECT user_id FROM owner), (SELECT group_id FROM owner), (SELECT id FROM code), 'own', i.created_at
FROM (SELECT id, provider_image_id, created_at, row_number() OVER (ORDER BY id) AS n FROM images) i;
COMMIT;
VACUUM ANALYZE;
