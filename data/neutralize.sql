-- A neutralized copy of a production database (a staging or a test copy)
-- must leave the clinic's PBX and tracking services alone; odoo-bin neutralize
-- runs this. Base neutralization already stops the scheduled actions: this also
-- stops the buttons and takes the stored credentials away.

-- Calltouch: no sync of the production account.
UPDATE res_company
   SET calltouch_enabled = false,
       calltouch_token = NULL;

-- Callmarker: no call or recording link is sent, no result fetched.
UPDATE res_company
   SET callmarker_enabled = false,
       callmarker_token = NULL;

-- The production PBX's API tokens no longer open the Event API, and no
-- password of its CDR database or its recordings is left.
UPDATE pbx_connection
   SET token_hash = NULL,
       token_hint = NULL,
       cdr_user = NULL,
       cdr_password = NULL,
       recordings_username = NULL,
       recordings_password = NULL;

-- The production CDR database is not read: its host never resolves
-- (.invalid, RFC 6761).
UPDATE pbx_connection
   SET cdr_host = 'neutralized.invalid'
 WHERE kind = 'freepbx_cdr';
