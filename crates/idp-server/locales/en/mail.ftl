# The strings of every mail, in English. A translation is a copy of this
# file under locales/<language>/ with the values translated; the ids and
# the { $variables } stay as they are.

greeting = Hello { $username },
signature = { $site }
link-fallback = If the button does not work, copy this address into your browser:

password-reset-subject = Reset your password
password-reset-intro = Someone asked to reset the password of your account at { $site }. If it was you, choose a new password with this link. It works once, within { $minutes } minutes.
password-reset-action = Choose a new password
password-reset-outro = If you did not ask for this, ignore this message: your password stays as it is.

email-verification-subject = Confirm your email address
email-verification-intro = Please confirm that { $email } is the address of your account at { $site }. The link works once, within { $hours } hours.
email-verification-action = Confirm my address
email-verification-outro = If you did not create this account, ignore this message.

email-change-subject = Confirm your new email address
email-change-intro = You asked to change the email address of your account at { $site } to { $email }. The change happens when you open this link. It works once, within { $hours } hours.
email-change-action = Confirm the new address
email-change-outro = If you did not ask for this, ignore this message: nothing changes.

email-change-notice-subject = Your email address is being changed
email-change-notice-intro = Someone asked to change the email address of your account at { $site } to { $email }. It changes only when the link sent to that address is opened.
email-change-notice-outro = If this was not you, change your password now and tell your administrator.
