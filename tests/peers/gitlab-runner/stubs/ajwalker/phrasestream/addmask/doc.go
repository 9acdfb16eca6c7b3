package addmask
