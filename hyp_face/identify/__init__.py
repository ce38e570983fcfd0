"""1:N identification and search: protocols as data dirs (:mod:`.protocols`) and the item score matrices of any
back-end (:mod:`.scoring`)."""
