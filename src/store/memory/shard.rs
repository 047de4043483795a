//! One shard: an open-addressing hash table of u32 node indexes, a slab of nodes, and an
//! intrusive LRU list (head = most recently used). Key and coded session share one
//! allocation per entry.

pub const NIL: u32 = u32::MAX;

pub struct Node {
    /// key bytes, then the coded session
    pub blob: Box<[u8]>,
    pub hash: u64,
    /// ms since the epoch; `f64::INFINITY` = never
    pub expires: f64,
    /// LRU clock value of the last use
    pub stamp: u64,
    pub key_len: u32,
    prev: u32,
    next: u32,
}

impl Node {
    pub fn key(&self) -> &[u8] {
        &self.blob[..self.key_len as usize]
    }
    pub fn data(&self) -> &[u8] {
        &self.blob[self.key_len as usize..]
    }
}

pub struct Shard {
    slots: Vec<u32>,
    nodes: Vec<Node>,
    free: Vec<u32>,
    head: u32,
    tail: u32,
    pub len: usize,
}

impl Default for Shard {
    fn default() -> Self {
        Shard {
            slots: vec![NIL; 8],
            nodes: Vec::new(),
            free: Vec::new(),
            head: NIL,
            tail: NIL,
            len: 0,
        }
    }
}

impl Shard {
    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    /// (slot, node) of `key`.
    fn find(&self, key: &[u8], hash: u64) -> Option<(usize, u32)> {
        let mask = self.mask();
        let mut i = hash as usize & mask;
        loop {
            let n = self.slots[i];
            if n == NIL {
                return None;
            }
            let node = &self.nodes[n as usize];
            if node.hash == hash && node.key() == key {
                return Some((i, n));
            }
            i = (i + 1) & mask;
        }
    }

    pub fn get(&self, key: &[u8], hash: u64) -> Option<u32> {
        self.find(key, hash).map(|(_, n)| n)
    }

    pub fn node(&self, n: u32) -> &Node {
        &self.nodes[n as usize]
    }

    /// The least recently used node's stamp, `u64::MAX` when empty.
    pub fn tail_stamp(&self) -> u64 {
        if self.tail == NIL {
            u64::MAX
        } else {
            self.nodes[self.tail as usize].stamp
        }
    }

    pub fn tail(&self) -> Option<u32> {
        (self.tail != NIL).then_some(self.tail)
    }

    /// Marks `n` used now (moves it to the LRU head).
    pub fn bump(&mut self, n: u32, stamp: u64) {
        self.nodes[n as usize].stamp = stamp;
        if self.head != n {
            self.unlink(n);
            self.push_front(n);
        }
    }

    /// Replaces the coded session and expiry of node `n`.
    pub fn update(&mut self, n: u32, data: &[u8], expires: f64, stamp: u64) {
        let node = &mut self.nodes[n as usize];
        let kl = node.key_len as usize;
        if node.blob.len() - kl == data.len() {
            node.blob[kl..].copy_from_slice(data);
        } else {
            let mut blob = Vec::with_capacity(kl + data.len());
            blob.extend_from_slice(&node.blob[..kl]);
            blob.extend_from_slice(data);
            node.blob = blob.into_boxed_slice();
        }
        node.expires = expires;
        self.bump(n, stamp);
    }

    pub fn set_expires(&mut self, n: u32, expires: f64) {
        self.nodes[n as usize].expires = expires;
    }

    /// Inserts or replaces; true when the key is new.
    pub fn upsert(&mut self, key: &[u8], hash: u64, data: &[u8], expires: f64, stamp: u64) -> bool {
        if let Some((_, n)) = self.find(key, hash) {
            self.update(n, data, expires, stamp);
            return false;
        }
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let mut blob = Vec::with_capacity(key.len() + data.len());
        blob.extend_from_slice(key);
        blob.extend_from_slice(data);
        let node = Node {
            blob: blob.into_boxed_slice(),
            hash,
            expires,
            stamp,
            key_len: key.len() as u32,
            prev: NIL,
            next: NIL,
        };
        let n = match self.free.pop() {
            Some(n) => {
                self.nodes[n as usize] = node;
                n
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        };
        self.place(n);
        self.push_front(n);
        self.len += 1;
        true
    }

    fn place(&mut self, n: u32) {
        let mask = self.mask();
        let mut i = self.nodes[n as usize].hash as usize & mask;
        while self.slots[i] != NIL {
            i = (i + 1) & mask;
        }
        self.slots[i] = n;
    }

    fn grow(&mut self) {
        let cap = self.slots.len() * 2;
        self.slots = vec![NIL; cap];
        let mut n = self.head;
        while n != NIL {
            self.place(n);
            n = self.nodes[n as usize].next;
        }
    }

    pub fn remove(&mut self, key: &[u8], hash: u64) -> bool {
        match self.find(key, hash) {
            Some((slot, n)) => {
                self.remove_at(slot, n);
                true
            }
            None => false,
        }
    }

    /// Removes node `n` (which must be live).
    pub fn remove_node(&mut self, n: u32) {
        let node = &self.nodes[n as usize];
        let (hash, key) = (node.hash, node.key().to_vec());
        if let Some((slot, found)) = self.find(&key, hash) {
            debug_assert_eq!(found, n);
            self.remove_at(slot, found);
        }
    }

    fn remove_at(&mut self, mut slot: usize, n: u32) {
        // backward-shift deletion keeps every probe sequence unbroken
        let mask = self.mask();
        self.slots[slot] = NIL;
        let mut j = slot;
        loop {
            j = (j + 1) & mask;
            let m = self.slots[j];
            if m == NIL {
                break;
            }
            let ideal = self.nodes[m as usize].hash as usize & mask;
            // can m move back to `slot`? (is `slot` cyclically within [ideal, j)?)
            let dist_j = j.wrapping_sub(ideal) & mask;
            let dist_slot = slot.wrapping_sub(ideal) & mask;
            if dist_slot < dist_j {
                self.slots[slot] = m;
                self.slots[j] = NIL;
                slot = j;
            }
        }
        self.unlink(n);
        let node = &mut self.nodes[n as usize];
        node.blob = Box::default();
        self.free.push(n);
        self.len -= 1;
    }

    fn unlink(&mut self, n: u32) {
        let (p, x) = {
            let node = &self.nodes[n as usize];
            (node.prev, node.next)
        };
        if p == NIL {
            self.head = x;
        } else {
            self.nodes[p as usize].next = x;
        }
        if x == NIL {
            self.tail = p;
        } else {
            self.nodes[x as usize].prev = p;
        }
    }

    fn push_front(&mut self, n: u32) {
        let old = self.head;
        {
            let node = &mut self.nodes[n as usize];
            node.prev = NIL;
            node.next = old;
        }
        if old == NIL {
            self.tail = n;
        } else {
            self.nodes[old as usize].prev = n;
        }
        self.head = n;
    }

    /// Live nodes from most to least recently used.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &Node)> {
        let mut n = self.head;
        std::iter::from_fn(move || {
            if n == NIL {
                return None;
            }
            let cur = n;
            n = self.nodes[n as usize].next;
            Some((cur, &self.nodes[cur as usize]))
        })
    }

    /// Removes every node expired at `now`; returns how many.
    pub fn sweep(&mut self, now: f64) -> usize {
        let dead: Vec<u32> = self
            .iter()
            .filter(|(_, node)| crate::expiry::is_expired(Some(node.expires), now))
            .map(|(n, _)| n)
            .collect();
        for &n in &dead {
            self.remove_node(n);
        }
        dead.len()
    }

    /// Drops everything and gives the memory back.
    pub fn clear(&mut self) -> usize {
        let n = self.len;
        *self = Shard::default();
        n
    }
}
