import { Rng } from '@encouraging-loss/translate';
import type { SentencePair } from '@encouraging-loss/translate/node';

/**
 * A seeded English→German sentence-pair generator with real German structure: articles by gender and case
 * (der/den, ein/einen), adjective endings (weak after der, mixed after ein, strong without article), plural
 * forms, V2 word order after a fronted adverb, negation with "nicht", and verb-final subordinate clauses after
 * "dass", "weil" and "wenn". The general and the in-domain (IT support) vocabularies are disjoint in nouns, verbs
 * and adjectives; both share the function words, so fine-tuning has to learn new words, not new grammar.
 */

type Gender = 'm' | 'f' | 'n';

interface Noun {
  en: string;
  enPlural: string;
  de: string;
  dePlural: string;
  gender: Gender;
  /** Accusative singular of weak masculine nouns (den Jungen). */
  deAccusative?: string;
  animate: boolean;
}

interface Verb {
  en: string;
  en3: string;
  de3: string;
  dePlural: string;
}

interface Adjective {
  en: string;
  de: string;
}

/** A vocabulary: the words one domain's sentences are made of. */
export interface Lexicon {
  nouns: Noun[];
  verbs: Verb[];
  adjectives: Adjective[];
}

function nouns(spec: string, animate: boolean): Noun[] {
  // "en/enPl/de/dePl/gender[/accusative]" separated by ";".
  return spec
    .split(';')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      const [en, enPlural, de, dePlural, gender, deAccusative] = entry.split('/');
      return { en, enPlural, de, dePlural, gender: gender as Gender, deAccusative, animate };
    });
}

function verbs(spec: string): Verb[] {
  return spec.split(';').map((entry) => {
    const [en, en3, de3, dePlural] = entry.trim().split('/');
    return { en, en3, de3, dePlural };
  });
}

function adjectives(spec: string): Adjective[] {
  return spec.split(';').map((entry) => {
    const [en, de] = entry.trim().split('/');
    return { en, de };
  });
}

/** The general domain: people, animals and everyday things. */
export const GENERAL: Lexicon = {
  nouns: [
    ...nouns(
      `dog/dogs/Hund/Hunde/m; cat/cats/Katze/Katzen/f; horse/horses/Pferd/Pferde/n; bird/birds/Vogel/Vögel/m;
       man/men/Mann/Männer/m; woman/women/Frau/Frauen/f; child/children/Kind/Kinder/n; teacher/teachers/Lehrer/Lehrer/m;
       friend/friends/Freund/Freunde/m; doctor/doctors/Arzt/Ärzte/m; farmer/farmers/Bauer/Bauern/m/Bauern;
       girl/girls/Mädchen/Mädchen/n; boy/boys/Junge/Jungen/m/Jungen; neighbour/neighbours/Nachbar/Nachbarn/m/Nachbarn;
       cook/cooks/Koch/Köche/m; sister/sisters/Schwester/Schwestern/f; brother/brothers/Bruder/Brüder/m;
       mother/mothers/Mutter/Mütter/f; father/fathers/Vater/Väter/m; baker/bakers/Bäcker/Bäcker/m`,
      true,
    ),
    ...nouns(
      `book/books/Buch/Bücher/n; apple/apples/Apfel/Äpfel/m; car/cars/Auto/Autos/n; house/houses/Haus/Häuser/n;
       table/tables/Tisch/Tische/m; letter/letters/Brief/Briefe/m; flower/flowers/Blume/Blumen/f; door/doors/Tür/Türen/f;
       picture/pictures/Bild/Bilder/n; ball/balls/Ball/Bälle/m; chair/chairs/Stuhl/Stühle/m; bottle/bottles/Flasche/Flaschen/f;
       window/windows/Fenster/Fenster/n; key/keys/Schlüssel/Schlüssel/m; bag/bags/Tasche/Taschen/f; song/songs/Lied/Lieder/n;
       cake/cakes/Kuchen/Kuchen/m; garden/gardens/Garten/Gärten/m; newspaper/newspapers/Zeitung/Zeitungen/f;
       bread/breads/Brot/Brote/n; glass/glasses/Glas/Gläser/n; hat/hats/Hut/Hüte/m; shoe/shoes/Schuh/Schuhe/m;
       lamp/lamps/Lampe/Lampen/f; boat/boats/Boot/Boote/n; cup/cups/Tasse/Tassen/f; tree/trees/Baum/Bäume/m`,
      false,
    ),
  ],
  verbs: verbs(
    `see/sees/sieht/sehen; find/finds/findet/finden; buy/buys/kauft/kaufen; have/has/hat/haben; carry/carries/trägt/tragen;
     visit/visits/besucht/besuchen; paint/paints/malt/malen; wash/washes/wäscht/waschen; hold/holds/hält/halten;
     bring/brings/bringt/bringen; love/loves/liebt/lieben; need/needs/braucht/brauchen; build/builds/baut/bauen;
     hear/hears/hört/hören; seek/seeks/sucht/suchen; draw/draws/zeichnet/zeichnen; catch/catches/fängt/fangen;
     take/takes/nimmt/nehmen; forget/forgets/vergisst/vergessen; show/shows/zeigt/zeigen`,
  ),
  adjectives: adjectives(
    `big/groß; small/klein; old/alt; new/neu; red/rot; green/grün; blue/blau; young/jung; beautiful/schön;
     fast/schnell; quiet/ruhig; strong/stark; warm/warm; cold/kalt; heavy/schwer; clean/sauber`,
  ),
};

/** The in-domain corpus for fine-tuning: IT support. No noun, verb or adjective is shared with {@link GENERAL}. */
export const IN_DOMAIN: Lexicon = {
  nouns: [
    ...nouns(
      `user/users/Benutzer/Benutzer/m; administrator/administrators/Administrator/Administratoren/m;
       developer/developers/Entwickler/Entwickler/m; customer/customers/Kunde/Kunden/m/Kunden;
       colleague/colleagues/Kollege/Kollegen/m/Kollegen; technician/technicians/Technikerin/Technikerinnen/f;
       manager/managers/Leiterin/Leiterinnen/f; team/teams/Team/Teams/n`,
      true,
    ),
    ...nouns(
      `file/files/Datei/Dateien/f; server/servers/Server/Server/m; password/passwords/Passwort/Passwörter/n;
       printer/printers/Drucker/Drucker/m; screen/screens/Bildschirm/Bildschirme/m; program/programs/Programm/Programme/n;
       folder/folders/Ordner/Ordner/m; message/messages/Nachricht/Nachrichten/f; keyboard/keyboards/Tastatur/Tastaturen/f;
       network/networks/Netzwerk/Netzwerke/n; database/databases/Datenbank/Datenbanken/f; update/updates/Update/Updates/n;
       computer/computers/Rechner/Rechner/m; backup/backups/Sicherung/Sicherungen/f; error/errors/Fehler/Fehler/m;
       account/accounts/Konto/Konten/n; device/devices/Gerät/Geräte/n; cable/cables/Kabel/Kabel/n;
       report/reports/Bericht/Berichte/m; setting/settings/Einstellung/Einstellungen/f`,
      false,
    ),
  ],
  verbs: verbs(
    `open/opens/öffnet/öffnen; delete/deletes/löscht/löschen; save/saves/speichert/speichern;
     install/installs/installiert/installieren; send/sends/sendet/senden; copy/copies/kopiert/kopieren;
     print/prints/druckt/drucken; check/checks/prüft/prüfen; update/updates/aktualisiert/aktualisieren;
     change/changes/ändert/ändern; repair/repairs/repariert/reparieren; block/blocks/sperrt/sperren;
     test/tests/testet/testen; configure/configures/konfiguriert/konfigurieren`,
  ),
  adjectives: adjectives(
    `secure/sicher; slow/langsam; broken/defekt; empty/leer; encrypted/verschlüsselt; important/wichtig;
     local/lokal; current/aktuell; faulty/fehlerhaft; shared/gemeinsam`,
  ),
};

type Determiner = 'the' | 'a' | 'my' | 'our';
type Case = 'nom' | 'acc';

const ADVERBS: [string, string][] = [
  ['Today', 'Heute'],
  ['Now', 'Jetzt'],
  ['Often', 'Oft'],
  ['Sometimes', 'Manchmal'],
  ['Usually', 'Meistens'],
];
const LEADS: [string, string][] = [
  ['I know that', 'Ich weiß, dass'],
  ['She says that', 'Sie sagt, dass'],
  ['We think that', 'Wir denken, dass'],
  ['They believe that', 'Sie glauben, dass'],
  ['He hopes that', 'Er hofft, dass'],
  ['It is true that', 'Es ist wahr, dass'],
];
const CONJUNCTIONS: [string, string][] = [
  ['because', 'weil'],
  ['when', 'wenn'],
  ['although', 'obwohl'],
];

interface NounPhrase {
  en: string;
  deNom: string;
  deAcc: string;
  plural: boolean;
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function germanDeterminer(det: Determiner, gender: Gender, grammaticalCase: Case, plural: boolean): string {
  if (det === 'the') {
    if (plural) return 'die';
    if (gender === 'm') return grammaticalCase === 'nom' ? 'der' : 'den';
    return gender === 'f' ? 'die' : 'das';
  }
  const stem = det === 'a' ? 'ein' : det === 'my' ? 'mein' : 'unser';
  if (plural) return `${stem}e`;
  if (gender === 'f') return `${stem}e`;
  if (gender === 'm' && grammaticalCase === 'acc') return `${stem}en`;
  return stem;
}

function adjectiveEnding(
  det: Determiner | 'none',
  gender: Gender,
  grammaticalCase: Case,
  plural: boolean,
): string {
  if (det === 'none') return 'e'; // strong plural, nominative/accusative
  if (plural) return 'en';
  if (det === 'the') return gender === 'm' && grammaticalCase === 'acc' ? 'en' : 'e';
  // Mixed declension after ein/mein/unser.
  if (gender === 'm') return grammaticalCase === 'nom' ? 'er' : 'en';
  return gender === 'f' ? 'e' : 'es';
}

function nounPhrase(rng: Rng, lexicon: Lexicon, animate: boolean): NounPhrase {
  const candidates = lexicon.nouns.filter((n) => n.animate === animate || (!animate && rng.next() < 0.2));
  const noun = rng.pick(candidates);
  const plural = rng.next() < 0.3;
  let det: Determiner | 'none' = rng.pick(['the', 'the', 'the', 'a', 'my', 'our'] as const);
  if (plural && det === 'a') det = 'none';
  const adjective = rng.next() < 0.4 ? rng.pick(lexicon.adjectives) : undefined;
  const enDet = det === 'none' ? '' : `${det} `;
  const en = `${enDet}${adjective ? `${adjective.en} ` : ''}${plural ? noun.enPlural : noun.en}`;
  const german = (grammaticalCase: Case) => {
    const words: string[] = [];
    if (det !== 'none') words.push(germanDeterminer(det, noun.gender, grammaticalCase, plural));
    if (adjective) words.push(adjective.de + adjectiveEnding(det, noun.gender, grammaticalCase, plural));
    if (plural) words.push(noun.dePlural);
    else words.push(grammaticalCase === 'acc' && noun.deAccusative ? noun.deAccusative : noun.de);
    return words.join(' ');
  };
  return { en, deNom: german('nom'), deAcc: german('acc'), plural };
}

interface Clause {
  en: string;
  /** Main-clause order: subject verb object [nicht]. */
  deMain: string;
  /** Subject and verb swapped after a fronted adverb (V2). */
  deInverted: string;
  /** Subordinate order: subject object [nicht] verb. */
  deFinal: string;
}

function clause(rng: Rng, lexicon: Lexicon): Clause {
  const subject = nounPhrase(rng, lexicon, true);
  const object = nounPhrase(rng, lexicon, false);
  const verb = rng.pick(lexicon.verbs);
  const negated = rng.next() < 0.2;
  const enVerb = negated
    ? `${subject.plural ? 'do' : 'does'} not ${verb.en}`
    : subject.plural
      ? verb.en
      : verb.en3;
  const deVerb = subject.plural ? verb.dePlural : verb.de3;
  const nicht = negated ? ' nicht' : '';
  return {
    en: `${subject.en} ${enVerb} ${object.en}`,
    deMain: `${subject.deNom} ${deVerb} ${object.deAcc}${nicht}`,
    deInverted: `${deVerb} ${subject.deNom} ${object.deAcc}${nicht}`,
    deFinal: `${subject.deNom} ${object.deAcc}${nicht} ${deVerb}`,
  };
}

/** One sentence pair drawn from `lexicon`. */
export function generatePair(rng: Rng, lexicon: Lexicon): SentencePair {
  const kind = rng.next();
  if (kind < 0.4) {
    const c = clause(rng, lexicon);
    return { source: `${capitalise(c.en)}.`, target: `${capitalise(c.deMain)}.` };
  }
  if (kind < 0.55) {
    const c = clause(rng, lexicon);
    const [en, de] = rng.pick(ADVERBS);
    return { source: `${en} ${c.en}.`, target: `${de} ${c.deInverted}.` };
  }
  if (kind < 0.8) {
    const c = clause(rng, lexicon);
    const [en, de] = rng.pick(LEADS);
    return { source: `${en} ${c.en}.`, target: `${de} ${c.deFinal}.` };
  }
  const first = clause(rng, lexicon);
  const second = clause(rng, lexicon);
  const [en, de] = rng.pick(CONJUNCTIONS);
  return {
    source: `${capitalise(first.en)} ${en} ${second.en}.`,
    target: `${capitalise(first.deMain)}, ${de} ${second.deFinal}.`,
  };
}

/** Options of {@link generateCorpus}. */
export interface CorpusOptions {
  seed: number;
  size: number;
  lexicon: Lexicon;
  /** Pairs whose source is in this set are not produced (keeps test sets out of training data). */
  exclude?: ReadonlySet<string>;
}

/** `size` distinct pairs, reproducible from `seed`. */
export function generateCorpus(options: CorpusOptions): SentencePair[] {
  const rng = new Rng(options.seed);
  const seen = new Set<string>(options.exclude ?? []);
  const pairs: SentencePair[] = [];
  let attempts = 0;
  while (pairs.length < options.size && attempts < options.size * 50) {
    attempts++;
    const pair = generatePair(rng, options.lexicon);
    if (seen.has(pair.source)) continue;
    seen.add(pair.source);
    pairs.push(pair);
  }
  return pairs;
}
