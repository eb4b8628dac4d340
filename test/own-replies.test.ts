// Relais's own words in a message's last reply, said in the reader's language; a server's words left as they came.
import t from 'tap';
import { translator } from '../src/i18n/index.js';
import { replyWords } from '../src/outbox/own-replies.js';

const fr = translator('fr');
const en = translator('en');

t.equal(replyWords('no usable server', fr), 'Aucun serveur utilisable (tous en panne, désactivés ou non confirmés)');
t.equal(replyWords('no usable server', en), 'No usable server (all down, deactivated or unconfirmed)');
t.equal(replyWords('purged', fr), 'Corps du message effacé après la durée de conservation');
t.equal(
  replyWords('refused: a@exemple.fr (550 No such user); delivered to the other recipients', fr),
  'refusé : a@exemple.fr (550 No such user); remis aux autres destinataires',
);
t.equal(replyWords('250 2.0.0 Ok; refused: a@exemple.fr (451 Later)', fr), '250 2.0.0 Ok; refusé : a@exemple.fr (451 Later)');
t.equal(replyWords('250 2.0.0 Ok', fr), '250 2.0.0 Ok', 'a server’s reply as it came');
// A server may answer anything: names an object has of its own are no words of Relais's.
for (const reply of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) t.equal(replyWords(reply, fr), reply);
t.equal(replyWords(null, fr), '');
