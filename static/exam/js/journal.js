// The page's local journal (seed 000, 5.1 "Browser 단계: 로컬 저장 유지, 재전송 큐 관리"): every
// change of an answer is written here before it is sent, and stays until the server says that
// version is in the database (answer.committed, or committedVersion from recover). It survives a
// reload and a browser crash; on another computer the journal is empty and the server's copy is
// the source. Keyed by examinee ("planId/examineeId"), so two people on one computer never mix.
//
// IndexedDB with strict durability (the write is on disk when it completes); localStorage where
// IndexedDB cannot be opened; memory only as the last resort (the page then says so).

const DB_NAME = "exam-journal";
const DB_VERSION = 1;
const ENTRIES = "entries";
const META = "meta";

function requestDone(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function transactionDone(transaction) {
  return new Promise((resolve, reject) => {
    transaction.oncomplete = () => resolve();
    transaction.onerror = () => reject(transaction.error);
    transaction.onabort = () => reject(transaction.error || new Error("journal write aborted"));
  });
}

function openDatabase() {
  return new Promise((resolve, reject) => {
    if (!globalThis.indexedDB) {
      reject(new Error("no IndexedDB"));
      return;
    }
    const request = indexedDB.open(DB_NAME, DB_VERSION);
    request.onupgradeneeded = () => {
      const db = request.result;
      if (!db.objectStoreNames.contains(ENTRIES)) {
        const store = db.createObjectStore(ENTRIES, { keyPath: ["owner", "questionId"] });
        store.createIndex("owner", "owner");
      }
      if (!db.objectStoreNames.contains(META)) db.createObjectStore(META, { keyPath: "owner" });
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
    request.onblocked = () => reject(new Error("journal database blocked"));
  });
}

class IndexedDbStore {
  constructor(db, owner) {
    this.db = db;
    this.owner = owner;
    this.kind = "indexeddb";
  }

  _transaction(stores) {
    try {
      return this.db.transaction(stores, "readwrite", { durability: "strict" });
    } catch (error) {
      return this.db.transaction(stores, "readwrite");
    }
  }

  async load() {
    const transaction = this.db.transaction([ENTRIES, META], "readonly");
    const entries = await requestDone(transaction.objectStore(ENTRIES).index("owner").getAll(this.owner));
    const meta = await requestDone(transaction.objectStore(META).get(this.owner));
    return { entries, meta: meta || { owner: this.owner } };
  }

  async put(entry) {
    const transaction = this._transaction([ENTRIES]);
    transaction.objectStore(ENTRIES).put({ ...entry, owner: this.owner });
    await transactionDone(transaction);
  }

  async remove(questionId) {
    const transaction = this._transaction([ENTRIES]);
    transaction.objectStore(ENTRIES).delete([this.owner, questionId]);
    await transactionDone(transaction);
  }

  async putMeta(meta) {
    const transaction = this._transaction([META]);
    transaction.objectStore(META).put({ ...meta, owner: this.owner });
    await transactionDone(transaction);
  }
}

class LocalStorageStore {
  constructor(owner, storage) {
    this.key = `exam-journal:${owner}`;
    this.owner = owner;
    this.storage = storage;
    this.kind = storage ? "localstorage" : "memory";
    this.data = { entries: {}, meta: { owner } };
  }

  async load() {
    if (this.storage) {
      const raw = this.storage.getItem(this.key);
      if (raw) this.data = JSON.parse(raw);
    }
    return { entries: Object.values(this.data.entries), meta: this.data.meta };
  }

  _save() {
    if (this.storage) this.storage.setItem(this.key, JSON.stringify(this.data));
  }

  async put(entry) {
    this.data.entries[entry.questionId] = { ...entry, owner: this.owner };
    this._save();
  }

  async remove(questionId) {
    delete this.data.entries[questionId];
    this._save();
  }

  async putMeta(meta) {
    this.data.meta = { ...meta, owner: this.owner };
    this._save();
  }
}

/**
 * The journal of one examinee. Writes are queued in call order, so a later change of a question
 * can never be overtaken on disk by an earlier one; `put` resolves once the entry is stored.
 */
export class Journal {
  constructor(store) {
    this.store = store;
    this.tail = Promise.resolve();
    this.pending = 0;
    // Called with the number of writes not yet on disk, and with each failed write.
    this.onPending = () => undefined;
    this.onError = () => undefined;
  }

  static async open(owner) {
    try {
      return new Journal(new IndexedDbStore(await openDatabase(), owner));
    } catch (error) {
      let storage = null;
      try {
        storage = globalThis.localStorage;
        storage.setItem("exam-journal-probe", "1");
        storage.removeItem("exam-journal-probe");
      } catch (storageError) {
        storage = null;
      }
      return new Journal(new LocalStorageStore(owner, storage));
    }
  }

  /** "indexeddb", "localstorage" or "memory" (memory does not survive a reload). */
  get kind() {
    return this.store.kind;
  }

  _queue(operation) {
    this.pending += 1;
    this.onPending(this.pending);
    const next = this.tail.then(operation, operation);
    const settled = next.then(
      () => undefined,
      (error) => this.onError(error),
    );
    this.tail = settled.then(() => {
      this.pending -= 1;
      this.onPending(this.pending);
    });
    return next;
  }

  load() {
    return this._queue(() => this.store.load());
  }

  put(entry) {
    return this._queue(() => this.store.put(entry));
  }

  remove(questionId) {
    return this._queue(() => this.store.remove(questionId));
  }

  putMeta(meta) {
    return this._queue(() => this.store.putMeta(meta));
  }
}
